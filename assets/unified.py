"""unified: near-duplicate clusters (within the batch, then against what earlier batches hold),
canonical formats (RGB PNG, 16 kHz mono FLAC, keyframes + track + cues, NFC text)."""

from typing import Any

from dagster import MetadataValue

from tessera.assets.factory import StageContext, StageOutcome, run_from_upstream, stage_asset
from tessera.core.records import Reason
from tessera.resources import decisions
from tessera.resources.near_index import near_ops, settle


def across_batches(sc: StageContext, outcome: StageOutcome) -> dict[str, Any]:
    """After the batch's commit and its gate: its landed pictures and notes that are near-copies of
    what another batch holds are set aside DUPLICATE naming that batch (resources/near_index.py);
    what it held and no longer does passes on (`near_handoffs`: batches to re-run from unified)."""
    ops = near_ops(sc.params)
    if not ops and sc.lake.dataset("near_index") is None:
        return {}
    rows, _ = sc.lake.batch_rows("unified", sc.batch, ["sample_id", "modalities", "metrics", "text"])
    verdicts = decisions.verdicts(sc.lake, sc.batch, "unified")
    near = settle(sc.lake, sc.batch, ops, rows.to_pylist(), lambda sid, op: sid in verdicts and verdicts[sid].overrides(op))
    if near.claims:
        claims = {sid: (c.op, c.detail) for sid, c in near.claims.items()}
        moved = {sid: {"cluster": c.holder_id, "metrics": {"cluster_distance": c.distance}} for sid, c in near.claims.items()}
        outcome.version = sc.lake.set_aside("unified", "unified", sc.batch, claims, Reason.DUPLICATE.value, moved)
        outcome.books.set_aside(claims, Reason.DUPLICATE.value)
        for e in outcome.manifest:
            if e["sample_id"] in claims:
                e["status"] = "quarantined"
        sc.context.log.info(f"batch {sc.batch}: {len(claims)} near-copies of content other batches hold set aside DUPLICATE")
    return {
        "near_duplicates_across_batches": len(near.claims),
        **({"near_handoffs": MetadataValue.json({b: len(ids) for b, ids in near.handoffs.items()})} if near.handoffs else {}),
    }


unified = stage_asset(
    name="unified",
    upstream="cleaned",
    run=run_from_upstream("cleaned"),
    after_commit=across_batches,
    description="Near-duplicate pictures (pHash) and notes (MinHash), within the batch and against earlier batches; canonical formats: "
    "RGB images at bounded size, 16 kHz mono audio, video keyframes + audio + subtitle cues, NFC text.",
)
