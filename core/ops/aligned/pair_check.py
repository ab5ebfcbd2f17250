from __future__ import annotations

from dataclasses import dataclass

from tessera.core.ops.base import RowOp, register_op
from tessera.core.records import MODALITY_ORDER, Reason, Result, Sample


def parse_requirement(require: str | list[str] | tuple[str, ...]) -> tuple[frozenset[str], ...]:
    """`any`, or alternatives such as ["image+text", "audio"] (a sample must have every modality of
    at least one); () means anything goes."""
    alternatives = [require] if isinstance(require, str) else list(require)
    if not alternatives or any(a.strip() == "any" for a in alternatives):
        return ()
    out = []
    for alt in alternatives:
        parts = frozenset(p.strip() for p in alt.split("+") if p.strip())
        if not parts or parts - set(MODALITY_ORDER):
            raise ValueError(f"pair.check require: {alt!r} is not `any` nor modalities joined by '+' from {', '.join(MODALITY_ORDER)}")
        out.append(parts)
    return tuple(out)


@register_op("pair.check")
@dataclass(frozen=True, slots=True)
class PairCheck(RowOp):
    """A sample must carry content of its own: timed cues with no media to time them against are
    UNPAIRED. `require` (params.yaml) is the dataset's modality requirement: `any`, or a list of
    alternatives like `image+text`; a sample meeting none is UNPAIRED, naming what it lacks."""

    require: str | tuple[str, ...] = "any"

    def __post_init__(self) -> None:
        parse_requirement(self.require)  # a bad requirement fails when the stage is built, not per row

    def __call__(self, s: Sample) -> Result:
        timed = {"audio", "video"} & set(s.modalities)
        if s.segments and not timed and s.text is None:
            return s.quarantine(Reason.UNPAIRED, f"{len(s.segments)} subtitle cues but no audio or video to align them with")
        alternatives = parse_requirement(self.require)
        have = set(s.modalities) | ({"text"} if s.text is not None else set())
        if alternatives and not any(alt <= have for alt in alternatives):
            closest = min(alternatives, key=lambda alt: (len(alt - have), -len(alt & have), sorted(alt)))
            wanted = " or ".join("+".join(m for m in MODALITY_ORDER if m in alt) for alt in alternatives)
            missing = ", ".join(m for m in MODALITY_ORDER if m in closest - have)
            return s.quarantine(Reason.UNPAIRED, f"the dataset requires {wanted}; this sample has {'+'.join(m for m in MODALITY_ORDER if m in have) or 'nothing'}, missing {missing}")
        return s
