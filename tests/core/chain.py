"""Every stage's operators, in order, on samples in memory: the stage runner's work without the
lake. Between stages the rows go through the stage table's Arrow form and back, with the media
the next stage loads (its `hydrate`), exactly as chunk workers see them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tessera.assets.factory import HYDRATE
from tessera.core.ops.base import OpContext, build_ops, prepare_all, prepare_columns
from tessera.core.records import MODALITY_ORDER, Quarantined, Sample
from tessera.core.runner import run_ops
from tessera.core.schema import arrow_to_samples, samples_to_arrow

STAGES = ("cleaned", "unified", "aligned", "augmented", "embedded")
MODEL_STAGES = {"aligned": ("transcriber",), "embedded": ("text", "image", "audio")}


@dataclass(slots=True)
class Chain:
    landed: dict[str, list[Sample]] = field(default_factory=dict)  # stage → what it landed
    quarantined: dict[str, list[Quarantined]] = field(default_factory=dict)

    def all_quarantined(self) -> list[tuple[str, Quarantined]]:
        return [(stage, q) for stage, qs in self.quarantined.items() for q in qs]


def run_chain(samples: list[Sample], params: Mapping[str, Any], models: Any = None, through: str = "embedded") -> Chain:
    """Run cleaned → … → `through` on raw samples; `models`: a ModelsResource (None: no models)."""
    out = Chain()
    rows, store = samples_to_arrow(samples, run_id="chain", code_version="chain", input_version=0, hydrated=MODALITY_ORDER)
    for stage in STAGES:
        ops = build_ops(params[stage]["ops"])
        current = sorted(_hydrated(arrow_to_samples(rows), HYDRATE[stage], store), key=lambda s: s.sample_id)
        columns = [c for c in prepare_columns(ops) if c in rows.column_names]
        prepared = prepare_all(ops, rows.select(columns))
        loaded = models.load(MODEL_STAGES[stage]) if models is not None and stage in MODEL_STAGES else None
        ctx = OpContext(batch=current[0].batch if current else "edge", seed=int(params.get("seed", 0)), workers=2, models=loaded, prepared=prepared)
        result = run_ops(ops, current, ctx)
        out.landed[stage], out.quarantined[stage] = result.landed, result.quarantined
        carried = [s for s in result.landed if "windows" not in s.metrics]  # a cut medium's windows carry on, not it
        rows, payload = samples_to_arrow(carried, run_id="chain", code_version="chain", input_version=0, hydrated=HYDRATE[stage])
        store.update(payload)
        if stage == through:
            break
    return out


def _hydrated(samples: list[Sample], wanted: tuple[str, ...], store: dict[str, bytes]) -> list[Sample]:
    """Samples with the stored bytes of `wanted` loaded, as the runner's `hydrate` does."""
    out = []
    for s in samples:
        media = {m: store[ref] for m, ref in s.media_ref.items() if m in wanted and ref in store}
        keyframes = [store[r] for r in s.keyframe_refs if r in store] if "keyframes" in wanted else []
        out.append(s.evolve(media=media, keyframes=keyframes))
    return out
