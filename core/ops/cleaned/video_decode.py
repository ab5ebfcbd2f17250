from __future__ import annotations

from dataclasses import dataclass

from core.decode.video import VideoLimits, probe_video
from core.ops.base import OpContext, map_isolated, register_op
from core.records import Result, Sample


@register_op("video.decode")
@dataclass(frozen=True, slots=True)
class VideoDecode:
    """Decode every frame under limits, each video in its own child process:
    a crashing or hanging decoder quarantines that video as DECODER_CRASH."""

    max_seconds: float = 600.0
    max_pixels: int = 3840 * 2160
    max_frames: int = 36_000
    timeout_s: float = 120.0

    def apply(self, samples: list[Sample], ctx: OpContext) -> list[Result]:
        limits = VideoLimits(self.max_seconds, self.max_pixels, self.max_frames)
        return map_isolated(
            samples,
            lambda s: "video" in s.modalities,
            probe_video,
            lambda s: (s.media["video"], limits),
            lambda s, metrics: s.with_metrics(**{f"video_{k}": v for k, v in metrics.items()}),
            workers=ctx.workers,
            timeout_s=self.timeout_s,
        )
