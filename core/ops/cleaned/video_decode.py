from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from core.decode.video import VideoLimits, decode_video
from core.ops.base import OpContext, map_isolated, register_op
from core.ops.unified.video_canonical import with_parts
from core.records import Result, Sample


@register_op("video.decode")
@dataclass(frozen=True, slots=True)
class VideoDecode:
    """Decode every frame under limits, isolated from the stage (a crashing or hanging decoder
    quarantines that video as DECODER_CRASH); record stream metrics (inventory, frame rate and
    whether it varies, scene cuts, motion) and, in the same pass, the canonical parts
    `video.canonical` would make (keyframes at a fixed rate and at cuts, 16 kHz track, cues)."""

    max_seconds: float = 600.0
    max_pixels: int = 3840 * 2160
    max_frames: int = 36_000
    timeout_s: float = 120.0
    keyframe_fps: float = 1.0
    max_side: int = 384
    analysis_fps: float = 5.0
    scene_threshold: float = 0.3

    def apply(self, samples: list[Sample], ctx: OpContext) -> list[Result]:
        limits = VideoLimits(self.max_seconds, self.max_pixels, self.max_frames)
        return map_isolated(
            samples,
            lambda s: "video" in s.modalities,
            partial(decode_video, keyframe_fps=self.keyframe_fps, max_side=self.max_side, analysis_fps=self.analysis_fps, scene_threshold=self.scene_threshold),
            lambda s: (s.media["video"], limits),
            lambda s, out: with_parts(s.with_metrics(**{f"video_{k}": v for k, v in out[0].items()}), out[1]),
            workers=ctx.workers,
            timeout_s=self.timeout_s,
        )
