from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from tessera.core.augment import caption_similarity, is_original, make_variant, seeds
from tessera.core.ops.base import OpContext, register_op
from tessera.core.records import Result, Sample

# Words whose loss changes what a caption says: negations, numbers, quantities and sides.
PROTECTED = re.compile(r"^(no|not|never|none|nobody|nothing|without|n't|\w*n't|left|right|\d[\d.,:/-]*|one|two|three|four|five|six|seven|eight|nine|ten|all|only)$", re.IGNORECASE)
PUNCTUATION = re.compile(r"[.,;:!?]")


def perturb(text: str, rng: np.random.Generator, dropout: float) -> str:
    """Case, punctuation and spacing changed; each unprotected word dropped with `dropout`."""
    words = text.split()
    kept = [w for w in words if PROTECTED.match(PUNCTUATION.sub("", w)) or rng.random() >= dropout] or words
    mode = int(rng.integers(0, 3))
    out = " ".join(kept)
    out = out.lower() if mode == 0 else out.capitalize() if mode == 1 else out
    if rng.random() < 0.5:
        out = PUNCTUATION.sub("", out)
    if rng.random() < 0.3:
        out = out.replace(" ", "  ", 1)
    return out


@register_op("text.perturb")
@dataclass(frozen=True, slots=True)
class TextPerturb:
    """`variants` copies of each captioned sample (its media unchanged) whose caption has its case,
    punctuation and spacing perturbed and each word dropped with `word_dropout` — never
    negations, numbers, quantities or sides (see PROTECTED). A variant whose caption falls under
    `min_similarity` to its parent's (character-trigram Jaccard) is not made; the parent's flag
    says how many were refused."""

    variants: int = 1
    word_dropout: float = 0.1
    min_similarity: float = 0.6

    def apply(self, samples: list[Sample], ctx: OpContext) -> list[Result]:
        out: list[Result] = []
        made: list[Result] = []
        for s in samples:
            if not s.text or not is_original(s) or not self.variants:
                out.append(s)
                continue
            refused = 0
            for seed in seeds(ctx.seed, s.sample_id, self.op_name, self.variants):
                text = perturb(s.text, np.random.default_rng(seed), self.word_dropout)
                similarity = round(caption_similarity(s.text, text), 4)
                if similarity < self.min_similarity:
                    refused += 1
                    continue
                made.append(make_variant(s, self.op_name, {"word_dropout": self.word_dropout, "similarity": similarity, "seed": seed}, text=text))
            out.append(s.evolve(flags=[*s.flags, f"text.perturb:{refused} variant(s) under similarity {self.min_similarity}"]) if refused else s)
        return out + made
