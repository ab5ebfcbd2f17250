from __future__ import annotations

from dataclasses import dataclass

from tessera.core.decode import DecodeFailure
from tessera.core.decode.text import decode_text, parse_subtitles
from tessera.core.ops.base import RowOp, register_op
from tessera.core.records import Reason, Result, Sample


@register_op("subtitles.decode")
@dataclass(frozen=True, slots=True)
class SubtitlesDecode(RowOp):
    """Parse a sidecar SRT/WebVTT file into timed segments; a file with no cue is CORRUPT."""

    max_bytes: int = 2_000_000
    modality = "subtitles"

    def applies_to(self, s: Sample) -> bool:
        return "subtitles" in s.media  # already parsed rows carry segments, not bytes

    def __call__(self, s: Sample) -> Result:
        try:
            text = decode_text(s.media["subtitles"], max_bytes=self.max_bytes, policy="strict")
        except DecodeFailure as exc:
            return s.quarantine(exc.reason, f"subtitle file: {exc.detail}")
        cues = parse_subtitles(text, f"subtitle:file:{s.formats.get('subtitles', 'srt')}")
        if not cues:
            return s.quarantine(Reason.CORRUPT, "subtitle file has no parsable cue (expected SRT or WebVTT timings)")
        media = {k: v for k, v in s.media.items() if k != "subtitles"}
        return s.evolve(segments=[*s.segments, *cues], media=media).with_metrics(subtitle_cues=float(len(cues)))
