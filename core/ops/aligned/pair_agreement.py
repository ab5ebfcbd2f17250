from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tessera.core.ops.base import OpContext, register_op
from tessera.core.records import Reason, Result, Sample

SEVERITIES = ("review", "flag")
# pair → (metric on the row, the encoder whose two towers score it, what its media side is)
PAIRS = {
    "image_text": ("align_image_text", "image"),
    "audio_text": ("align_audio_text", "audio"),
    "transcript_text": ("align_transcript_text", "text"),
}


@register_op("pair.agreement")
@dataclass(frozen=True, slots=True)
class PairAgreement:
    """Does the caption say what the media hold? Cosine between the caption and, by the models of
    the `models:` resource: the picture (CLIP), the sound (CLAP), what is said in it (its transcript
    or cues, by the text model). Each score goes on the row (`align_image_text`,
    `align_audio_text`, `align_transcript_text`). Below its threshold the sample is MISALIGNED
    (severity `review`: set aside for the steward, who decides) or lands flagged (`flag`).
    Where a model is not there the score is absent and a flag says why — never a made-up number.
    A threshold of null turns that pair off."""

    image_text: float | None = 0.2
    audio_text: float | None = 0.1
    transcript_text: float | None = 0.2
    severity: str = "review"

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity {self.severity!r}: choose one of {', '.join(SEVERITIES)}")

    def apply(self, samples: list[Sample], ctx: OpContext) -> list[Result]:
        scores: dict[str, dict[str, float]] = {s.sample_id: {} for s in samples}
        missing: dict[str, dict[str, str]] = {s.sample_id: {} for s in samples}
        models = ctx.models
        for pair, (_, space) in PAIRS.items():
            if getattr(self, pair) is None:
                continue
            wanted = [(s, media) for s in samples if (media := _media(s, pair)) is not None]
            if not wanted:
                continue
            enc = models.encoder(space) if models is not None else None
            if enc is None:
                why = models.why(space) if models is not None else "no models in this stage"
                for s, _ in wanted:
                    missing[s.sample_id][pair] = why
                continue
            try:
                got = _cosines(enc, space, [m for _, m in wanted], [s.text or "" for s, _ in wanted])
            except Exception as exc:  # a model that cannot score here (e.g. no tokenizer beside CLIP): absent, and why
                why = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
                for s, _ in wanted:
                    missing[s.sample_id][pair] = why
                continue
            for (s, _), value in zip(wanted, got, strict=True):
                scores[s.sample_id][pair] = float(value)
        return [self._verdict(s, scores[s.sample_id], missing[s.sample_id]) for s in samples]

    def _verdict(self, s: Sample, scores: dict[str, float], missing: dict[str, str]) -> Result:
        if not scores and not missing:
            return s
        out = s.with_metrics(**{PAIRS[p][0]: round(v, 4) for p, v in scores.items()})
        flags = [f"{self.op_name}:{p} not scored: {why}" for p, why in sorted(missing.items())]
        low = [(p, v) for p, v in sorted(scores.items()) if v < getattr(self, p)]
        if low and self.severity == "review":
            words = "; ".join(f"{p.replace('_', '↔')} {v:.2f} < {getattr(self, p)}" for p, v in low)
            return out.evolve(flags=[*out.flags, *flags]).quarantine(Reason.MISALIGNED, f"the caption does not match: {words}")
        flags += [f"{self.op_name}:{p} low {v:.2f} < {getattr(self, p)}" for p, v in low]
        return out.evolve(flags=[*out.flags, *flags]) if flags else out


def _media(s: Sample, pair: str) -> Any | None:
    """What the caption is compared with in this pair, or None when the sample lacks either side."""
    if not s.text:
        return None
    if pair == "image_text":
        return s.media.get("image")
    if pair == "audio_text":
        return s.media.get("audio")
    said = s.transcript or " ".join(g.text for g in s.segments if g.text)
    return said or None


def _cosines(enc: Any, space: str, media: list[Any], captions: list[str]) -> np.ndarray:
    if space == "text":  # one tower: caption and transcript both through the text model
        a, b = enc.encode(captions), enc.encode(media)
    else:
        a, b = enc.encode_text(captions), enc.encode(media)
    return np.sum(np.asarray(a, np.float32) * np.asarray(b, np.float32), axis=1)
