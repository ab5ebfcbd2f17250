from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from tessera.core.augment import is_original, make_variant, seeds
from tessera.core.decode import DecodeFailure
from tessera.core.decode.audio import CANONICAL_RATE, decode_audio, encode_audio
from tessera.core.ops.base import OpContext, register_op
from tessera.core.records import Result, Sample
from tessera.core.windows import retime

log = logging.getLogger(__name__)


@register_op("video.temporal_crop")
@dataclass(frozen=True, slots=True)
class VideoTemporalCrop:
    """`variants` contiguous stretches of each video keeping at least `min_share` of its duration
    (seeded): the keyframes inside, re-timed to the stretch; its stretch of the audio track; its
    cues shifted and clipped (core/windows.retime)."""

    variants: int = 1
    min_share: float = 0.6
    max_seconds: float = 600.0

    def apply(self, samples: list[Sample], ctx: OpContext) -> list[Result]:
        out: list[Result] = list(samples)
        for s in samples:
            duration = s.metrics.get("video_duration_s", 0.0)
            frames = s.keyframes or s.keyframe_refs  # bytes, or (not hydrated) their references: a variant reuses either
            if "video" not in s.modalities or not frames or not duration or not is_original(s) or not self.variants:
                continue
            track = None
            if "audio" in s.media:
                try:
                    track = decode_audio(s.media["audio"], max_seconds=self.max_seconds, rate=CANONICAL_RATE).samples
                except DecodeFailure as exc:
                    log.warning("video.temporal_crop: no audio for %s: %s", s.sample_id[:12], exc.detail)
            for seed in seeds(ctx.seed, s.sample_id, self.op_name, self.variants):
                rng = np.random.default_rng(seed)
                length = float(rng.uniform(self.min_share, 1.0)) * duration
                start = round(float(rng.uniform(0, duration - length)), 3)
                end = round(start + length, 3)
                picked = [(f, round(t - start, 3)) for f, t in zip(frames, s.keyframe_times, strict=True) if start <= t < end]
                if not picked:
                    continue
                media, heard = dict(s.media), {}
                if track is not None:
                    cut = track[int(start * CANONICAL_RATE) : int(end * CANONICAL_RATE)]
                    media["audio"], heard = encode_audio(cut), {"duration_s": round(len(cut) / CANONICAL_RATE, 3)}
                variant = make_variant(
                    s, self.op_name, {"start_s": start, "end_s": end, "seed": seed}, media=media,
                    **{"keyframes" if s.keyframes else "keyframe_refs": [f for f, _ in picked]}, keyframe_times=[t for _, t in picked],
                    segments=retime(s.segments, start, end),
                )  # fmt: skip
                out.append(variant.with_metrics(video_duration_s=round(end - start, 3), keyframes=float(len(picked)), **heard))
        return out
