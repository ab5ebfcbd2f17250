from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from core.decode.audio import CANONICAL_AUDIO
from core.decode.video import VideoLimits, VideoParts, decode_video
from core.ops.base import OpContext, map_isolated, register_op
from core.records import MODALITY_ORDER, Result, Sample


@register_op("video.canonical")
@dataclass(frozen=True, slots=True)
class VideoCanonical:
    """Keyframes every 1/`keyframe_fps` s (JPEG, longer side ≤ `max_side`), the first audio
    track as 16 kHz mono FLAC, and the cues of embedded subtitle streams; isolated from the
    stage. A video `video.decode` already took apart (it has keyframes) is left as it is."""

    keyframe_fps: float = 1.0
    max_side: int = 384
    max_seconds: float = 600.0
    timeout_s: float = 120.0

    def apply(self, samples: list[Sample], ctx: OpContext) -> list[Result]:
        limits = VideoLimits(self.max_seconds, max_pixels=1 << 62, max_frames=1 << 62)
        return map_isolated(
            samples,
            lambda s: "video" in s.modalities and not (s.keyframes or s.keyframe_refs),
            partial(decode_video, keyframe_fps=self.keyframe_fps, max_side=self.max_side),
            lambda s: (s.media["video"], limits),
            lambda s, out: with_parts(s, out[1]),
            workers=ctx.workers,
            timeout_s=self.timeout_s,
        )


def with_parts(s: Sample, parts: VideoParts) -> Sample:
    """Keyframes, cues, and the video's own track as the sample's audio (unless it has one)."""
    media, formats, modalities = dict(s.media), dict(s.formats), list(s.modalities)
    if parts.audio is not None and "audio" not in media:
        media["audio"], formats["audio"] = parts.audio, CANONICAL_AUDIO
        modalities = [m for m in MODALITY_ORDER if m in {*modalities, "audio"}]
    return s.evolve(
        media=media,
        formats=formats,
        modalities=modalities,
        keyframes=parts.keyframes,
        keyframe_times=parts.keyframe_times,
        segments=[*s.segments, *parts.segments],
    ).with_metrics(keyframes=float(len(parts.keyframes)), embedded_cues=float(len(parts.segments)))
