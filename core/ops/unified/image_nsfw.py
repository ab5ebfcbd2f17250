from __future__ import annotations

import logging
from dataclasses import dataclass

from tessera.core.decode import DecodeFailure
from tessera.core.decode.image import open_image, to_rgb
from tessera.core.nsfw import nsfw_scores
from tessera.core.ops.base import OpContext, register_op
from tessera.core.records import Reason, Result, Sample

log = logging.getLogger(__name__)
ACTIONS = ("quarantine", "flag")


@register_op("image.nsfw")
@dataclass(frozen=True, slots=True)
class ImageNsfw:
    """`nsfw_score` on every picture: the highest confidence of an exposed explicit body part
    (core/nsfw.py: NudeNet's detector, offline). Over `max_score`: quarantined UNSAFE, which a
    steward may approve (action quarantine), or landed with a flag (action flag)."""

    max_score: float = 0.6
    action: str = "quarantine"
    max_pixels: int = 40_000_000

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"image.nsfw action {self.action!r} must be one of {ACTIONS}")

    def apply(self, samples: list[Sample], ctx: OpContext | None = None) -> list[Result]:
        pictures = {}
        for s in samples:
            if "image" not in s.media:
                continue
            try:
                pictures[s.sample_id] = to_rgb(open_image(s.media["image"], max_pixels=self.max_pixels))
            except DecodeFailure as exc:
                log.warning("image.nsfw: %s not scored: %s", s.sample_id[:12], exc.detail)
        scores = dict(zip(pictures, nsfw_scores(list(pictures.values())), strict=True))
        return [self.judge(s, scores[s.sample_id]) if s.sample_id in scores else s for s in samples]

    def judge(self, s: Sample, score: float) -> Result:
        scored = s.with_metrics(nsfw_score=score)
        if score <= self.max_score:
            return scored
        why = f"an exposed explicit body part detected at {score:.2f} (> {self.max_score:g})"
        if self.action == "flag":
            return scored.evolve(flags=[*s.flags, f"image.nsfw:{why}"])
        return scored.quarantine(Reason.UNSAFE, why)
