from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from tessera.core.avsync import track_start
from tessera.core.decode.audio import CANONICAL_AUDIO, CANONICAL_RATE, read_audio
from tessera.core.decode.video import VideoLimits, VideoParts, decode_video
from tessera.core.ops.base import OpContext, map_isolated, register_op
from tessera.core.ops.unified.audio_place import START
from tessera.core.records import MODALITY_ORDER, Result, Sample


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
    pair_sync_s: float = 3.0
    pair_min_sync: float = 0.3

    def apply(self, samples: list[Sample], ctx: OpContext) -> list[Result]:
        limits = VideoLimits(self.max_seconds, max_pixels=1 << 62, max_frames=1 << 62)
        return map_isolated(
            samples,
            lambda s: "video" in s.modalities and not (s.keyframes or s.keyframe_refs),
            partial(decode_video, keyframe_fps=self.keyframe_fps, max_side=self.max_side),
            lambda s: (s.media["video"], limits),
            lambda s, out: with_parts(s, out[1], self.pair_sync_s, self.pair_min_sync),
            workers=ctx.workers,
            timeout_s=self.timeout_s,
        )


def with_parts(s: Sample, parts: VideoParts, sync_s: float = 3.0, min_sync_score: float = 0.3) -> Sample:
    """Keyframes, cues, and the video's own track as the sample's audio (unless it has one).

    A recorder's track that joined the video by its clock (raw's time pairing) is synced to the
    video's own track where there is one: its start (`paired_audio_start_s`) is searched within
    ±`sync_s` of the clocks' guess (core/avsync.track_start) and kept when the onsets agree at
    `min_sync_score` or better; `paired_audio_sync_score` says how well they did."""
    media, formats, modalities = dict(s.media), dict(s.formats), list(s.modalities)
    synced: dict[str, float] = {}
    if parts.audio is not None and START in s.metrics and formats.get("audio") == CANONICAL_AUDIO:
        found = track_start(read_audio(parts.audio).samples, read_audio(media["audio"]).samples, CANONICAL_RATE, s.metrics[START], sync_s)
        if found is not None:
            synced = {"paired_audio_sync_score": found[1], **({START: found[0]} if found[1] >= min_sync_score else {})}
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
    ).with_metrics(keyframes=float(len(parts.keyframes)), embedded_cues=float(len(parts.segments)), **synced)
