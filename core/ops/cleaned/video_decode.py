from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from core.decode.audio import CANONICAL_AUDIO
from core.decode.video import VideoLimits, VideoParts, decode_video
from core.ops.base import OpContext, map_isolated, register_op
from core.ops.unified.video_canonical import with_parts
from core.records import MODALITY_ORDER, Result, Sample
from core.windows import window


@register_op("video.decode")
@dataclass(frozen=True, slots=True)
class VideoDecode:
    """Decode every frame under limits, isolated from the stage (a crashing or hanging decoder
    quarantines that video as DECODER_CRASH); record stream metrics (inventory, frame rate and
    whether it varies, scene cuts, motion) and, in the same pass, the canonical parts
    `video.canonical` would make (keyframes at a fixed rate and at cuts, 16 kHz track, cues).
    Longer than `window_over_s`: cut into clips of `window_s` (core/windows.py), each with its
    keyframes, its stretch of the track and its cues; past `max_seconds`: TOO_LONG. A file cut
    short lands what decodes when that is at least `min_recovered_share` of the frames its index
    lists (`video_recovered_share`); otherwise TRUNCATED. A recorder's track time-paired with the
    video is synced to the video's own track within ±`pair_sync_s` (with_parts)."""

    window_over_s: float = 600.0
    window_s: float = 60.0
    max_seconds: float = 14400.0
    max_pixels: int = 3840 * 2160
    max_frames: int = 1_440_000
    timeout_s: float = 120.0
    keyframe_fps: float = 1.0
    max_side: int = 384
    analysis_fps: float = 5.0
    scene_threshold: float = 0.3
    min_recovered_share: float = 0.5
    av_max_lag_s: float = 2.0
    pair_sync_s: float = 3.0
    pair_min_sync: float = 0.3

    def apply(self, samples: list[Sample], ctx: OpContext) -> list[Result]:
        limits = VideoLimits(self.max_seconds, self.max_pixels, self.max_frames)
        decode = partial(
            decode_video, keyframe_fps=self.keyframe_fps, max_side=self.max_side, analysis_fps=self.analysis_fps,
            scene_threshold=self.scene_threshold, window_over_s=self.window_over_s, window_s=self.window_s,
            min_recovered_share=self.min_recovered_share, av_max_lag_s=self.av_max_lag_s,
        )  # fmt: skip
        decoded = map_isolated(
            samples,
            lambda s: "video" in s.modalities,
            decode,
            lambda s: (s.media["video"], limits),
            lambda s, out: _Decoded(s.with_metrics(**{f"video_{k}": v for k, v in out[0].items()}), out[1], self.pair_sync_s, self.pair_min_sync),  # type: ignore[arg-type,return-value]
            workers=ctx.workers,
            timeout_s=self.timeout_s,
        )
        return [r for d in decoded for r in (d.rows() if isinstance(d, _Decoded) else [d])]


@dataclass(frozen=True, slots=True)
class _Decoded:
    sample: Sample
    parts: VideoParts
    sync_s: float
    min_sync: float

    def rows(self) -> list[Result]:
        """The sample with its parts; a windowed video: the parent with its metrics, then its clips.
        A parent that audio.decode already cut (its separate audio file was long) ends at this
        stage, so its pictures go on as clips even when short: one clip, the whole video."""
        s, p = self.sample, self.parts
        spans, tracks, offsets = p.windows, p.audio_windows, p.window_av
        if not spans and "windows" in s.metrics:
            end = s.metrics.get("video_duration_s") or (max(p.keyframe_times, default=0.0) + 1.0)
            offset = (s.metrics["video_av_offset_s"], s.metrics["video_av_offset_score"]) if "video_av_offset_score" in s.metrics else None
            spans, tracks, offsets = [(0.0, float(end))], [p.audio] if p.audio is not None else [], [offset]
        if not spans:
            return [with_parts(s, p, self.sync_s, self.min_sync)]
        whole = s.evolve(segments=[*s.segments, *p.segments])
        clips: list[Result] = []
        for i, (start, end) in enumerate(spans):
            picked = [(f, t - start) for f, t in zip(p.keyframes, p.keyframe_times, strict=True) if start <= t < end]
            media: dict[str, Any] = {"audio": tracks[i]} if i < len(tracks) else {}
            clip = window(
                whole, "video", i, (start, end), media, {"audio": CANONICAL_AUDIO} if media else {},
                {"video_duration_s": end - start, "keyframes": float(len(picked)), **_av(offsets[i] if i < len(offsets) else None)},
                keyframes=[f for f, _ in picked], keyframe_times=[round(t, 3) for _, t in picked],
            )  # fmt: skip
            kinds = {*clip.modalities, *(["audio"] if media else [])}
            clips.append(clip.evolve(modalities=[m for m in MODALITY_ORDER if m in kinds]))
        # `windows` counts every child: a separate audio file past window_over_s was cut at audio.decode already
        parent = s.evolve(media={m: v for m, v in s.media.items() if m != "video"}).with_metrics(windows=s.metrics.get("windows", 0.0) + len(spans))
        return [parent, *clips]


def _av(found: tuple[float, float] | None) -> dict[str, float]:
    return {} if found is None else {"video_av_offset_s": found[0], "video_av_offset_score": found[1]}
