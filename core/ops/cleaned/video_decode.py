from __future__ import annotations

from dataclasses import dataclass

from core.decode.video import VideoLimits, probe_video
from core.isolate import run_isolated
from core.ops.base import OpContext, register_op
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
        videos = [s for s in samples if "video" in s.modalities]
        limits = VideoLimits(self.max_seconds, self.max_pixels, self.max_frames)
        outcomes = run_isolated(probe_video, [((s.media["video"], limits), {}) for s in videos], workers=ctx.workers, timeout_s=self.timeout_s)
        verdict: dict[str, Result] = {}
        for s, o in zip(videos, outcomes, strict=True):
            if o.failure is not None:
                verdict[s.sample_id] = s.quarantine(o.failure.reason, o.failure.detail)
            else:
                verdict[s.sample_id] = s.with_metrics(**{f"video_{k}": v for k, v in o.value.items()})
        return [verdict.get(s.sample_id, s) for s in samples]
