"""text.near_dup: captions that say the same thing cluster (recorded on every member); different
ones do not; the verdict does not depend on order or chunking."""

from __future__ import annotations

import pyarrow as pa

from tessera.core.ops.base import OpContext
from tessera.core.ops.unified.text_near_dup import TextNearDup
from tessera.core.records import Quarantined, Reason, Sample


def _texts(make_sample, *captions: str) -> list[Sample]:
    return [make_sample(text=c.encode()).evolve(text=c) for c in captions]


CAPTIONS = (
    "A brown dog runs along the sandy beach at dawn.",
    "a brown dog runs along the sandy beach at dawn",  # case and punctuation only
    "A brown dog runs along the sandy beach at dusk.",  # one word apart
    "Two children build a sandcastle near the pier.",
)


def test_near_duplicate_captions_cluster_and_the_rest_stay_apart(make_sample, ctx) -> None:
    rows = _texts(make_sample, *CAPTIONS)
    out = {r.sample_id: r for r in TextNearDup(action="keep").apply(rows, ctx)}
    dogs = [out[r.sample_id] for r in rows[:3]]
    rep = min(r.sample_id for r in rows[:3])
    assert all(d.cluster == rep and d.metrics["cluster_size"] == 3.0 for d in dogs)
    assert out[rows[3].sample_id].cluster is None
    quarantined = [r for r in TextNearDup().apply(rows, ctx) if isinstance(r, Quarantined)]
    assert len(quarantined) == 2 and all(q.reason is Reason.DUPLICATE and rep[:12] in q.detail for q in quarantined)


def test_a_note_and_a_caption_of_a_picture_are_never_each_other_s_duplicate(make_sample, ctx, astronaut_png) -> None:
    rows = _texts(make_sample, CAPTIONS[0]) + [make_sample(image=astronaut_png, text=CAPTIONS[1].encode()).evolve(text=CAPTIONS[1])]
    out = TextNearDup().apply(rows, ctx)
    assert all(isinstance(r, Sample) and r.cluster is None and r.flags == [] for r in out)


def test_captions_shared_by_different_pictures_are_flagged_never_set_aside(make_sample, ctx, astronaut_png, camera_png, chelsea_png) -> None:
    """Different media under near-identical captions are different samples; the shared caption is
    a weak label, flagged on each row (`captions: flag`), or not looked at (`captions: ignore`)."""
    rows = [
        make_sample(image=astronaut_png, text=b"Photo: staff photographer").evolve(text="Photo: staff photographer"),
        make_sample(image=camera_png, text=b"photo - staff photographer").evolve(text="photo - staff photographer"),
        make_sample(image=chelsea_png, text=b"a cat").evolve(text="a cat"),
    ]
    out = TextNearDup().apply(rows, ctx)
    assert all(isinstance(r, Sample) and r.cluster is None for r in out)
    assert [len(r.flags) for r in out] == [1, 1, 0]
    assert out[0].flags[0].startswith("text.near_dup:caption shared with 1 other sample (as ")
    assert all(r.flags == [] for r in TextNearDup(captions="ignore").apply(rows, ctx))


def test_the_verdict_is_the_batch_s_whatever_the_chunks(make_sample) -> None:
    rows = _texts(make_sample, *CAPTIONS)
    op = TextNearDup()
    prepared = op.prepare(pa.Table.from_pylist([{"sample_id": r.sample_id, "modalities": r.modalities, "text": r.text} for r in rows]))
    ctx = OpContext(batch="b1", prepared={op.op_name: prepared})
    chunked = [out for r in rows[::-1] for out in op.apply([r], ctx)]
    whole = op.apply(rows, OpContext(batch="b1"))
    assert sorted((r.sample_id, type(r).__name__) for r in chunked) == sorted((r.sample_id, type(r).__name__) for r in whole)
