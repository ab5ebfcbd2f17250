from __future__ import annotations

from dataclasses import dataclass

from tessera.core.decode.text import identify
from tessera.core.ops.base import RowOp, register_op
from tessera.core.records import Reason, Result, Sample

UNDETERMINED = "und"  # ISO 639-2: too short, or no language the model is sure of


@register_op("text.language")
@dataclass(frozen=True, slots=True)
class TextLanguage(RowOp):
    """The caption's language (ISO 639-1) and the model's probability, on the row (`language`,
    `language_score`). Text under `min_chars` characters, or identified below `min_score`, is
    `und`. With `allowed` (e.g. [en, de]), a caption in another language is quarantined
    UNSUPPORTED, naming the language found; an undetermined one is kept."""

    min_chars: int = 12
    min_score: float = 0.5
    allowed: tuple[str, ...] = ()
    modality = "text"

    def __call__(self, s: Sample) -> Result:
        if not s.text:
            return s
        lang, score = identify(s.text) if len(s.text.strip()) >= self.min_chars else (UNDETERMINED, 0.0)
        if score < self.min_score:
            lang = UNDETERMINED
        if self.allowed and lang != UNDETERMINED and lang not in self.allowed:
            return s.quarantine(Reason.UNSUPPORTED, f"caption language {lang} (p={score:.2f}) is not among the allowed {', '.join(self.allowed)}")
        return s.evolve(language=lang, language_score=round(score, 4))
