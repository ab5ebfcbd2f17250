"""The ledger a stage leaves on each row (core/lineage.py through core/runner.run_ops): every kind
of edge, as the real operators make it."""

from __future__ import annotations

from tessera.core.decisions import Action, Verdict
from tessera.core.ops.base import OpContext, build_ops
from tessera.core.records import Quarantined, Sample
from tessera.core.runner import run_ops
from tessera.core.schema import arrow_to_samples, samples_to_arrow


def _kinds(row: Sample | Quarantined) -> list[tuple[str, str]]:
    s = row.sample if isinstance(row, Quarantined) else row
    return [(e.op, e.kind) for e in s.lineage]


def test_operators_that_change_a_row_say_which_fields_and_a_dropped_row_says_why(make_sample, astronaut_png, truncated_png) -> None:
    good, bad = make_sample(image=astronaut_png, text=b"an astronaut"), make_sample(image=truncated_png)
    out = run_ops(build_ops(["text.decode", "image.decode", {"image.min_side": {"px": 32}}]), [good, bad], OpContext(batch="b"))
    (landed,) = out.landed
    edges = {e.op: e for e in landed.lineage}
    assert set(edges) == {"text.decode", "image.decode"} and all(e.kind == "modified" for e in edges.values())
    assert "metrics" in edges["image.decode"].detail and "text" in edges["text.decode"].detail
    (dropped,) = out.quarantined
    (edge,) = dropped.sample.lineage
    assert (edge.op, edge.kind) == ("image.decode", "dropped") and edge.detail.startswith("TRUNCATED: ")
    # the ledger survives the stage table's Arrow form
    rows, _ = samples_to_arrow(out.landed, run_id="r", code_version="c", input_version=0, quarantined=out.quarantined, stage="cleaned")
    assert [s.lineage for s in arrow_to_samples(rows)] == [landed.lineage, dropped.sample.lineage]


def test_a_near_duplicate_names_its_representative_and_the_representative_its_cluster(make_sample, astronaut_png, astronaut_jpeg) -> None:
    decoded = run_ops(build_ops(["image.decode"]), [make_sample(image=astronaut_png), make_sample(image=astronaut_jpeg)], OpContext(batch="b")).landed
    out = run_ops(build_ops(["image.near_dup"]), decoded, OpContext(batch="b"))
    (kept,), (copy,) = out.landed, out.quarantined
    assert ("image.near_dup", "merged") in _kinds(kept)
    dup = next(e for e in copy.sample.lineage if e.kind == "duplicate_of")
    assert dup.related == (kept.sample_id,) and dup.detail.startswith("DUPLICATE: near-duplicate of")


def test_variants_and_their_parent_point_at_each_other(make_sample, chelsea_png) -> None:
    s = make_sample(image=chelsea_png, text=b"a cat on the left").evolve(text="a cat on the left")
    decoded = run_ops(build_ops(["image.decode"]), [s], OpContext(batch="b")).landed
    out = run_ops(build_ops([{"image.hflip": {"max_text_score": 1.0}}]), decoded, OpContext(batch="b", seed=1))
    parent = next(r for r in out.landed if r.parent_id is None)
    variant = next(r for r in out.landed if r.parent_id is not None)
    made = next(e for e in parent.lineage if e.kind == "augmented")
    assert made.related == (variant.sample_id,)
    assert [(e.kind, e.related) for e in variant.lineage] == [("variant_of", (parent.sample_id,))]


def test_a_long_recording_cut_into_windows_names_its_windows_and_each_window_its_parent(make_sample, mk_wav, mk_tone) -> None:
    s = make_sample(audio=mk_wav(mk_tone(2.5, 16000), 16000))
    out = run_ops(build_ops([{"audio.decode": {"window_over_s": 1.0, "window_s": 1.0}}]), [s], OpContext(batch="b"))
    parent = next(r for r in out.landed if r.sample_id == s.sample_id)
    windows = [r for r in out.landed if r.parent_id == s.sample_id]
    split = next(e for e in parent.lineage if e.kind == "split")
    assert len(windows) == 3 and set(split.related) == {w.sample_id for w in windows}
    assert all([(e.kind, e.related) for e in w.lineage] == [("window_of", (s.sample_id,))] for w in windows)


def test_a_steward_s_relabel_and_rejection_are_edges_of_their_own(make_sample) -> None:
    a = make_sample(text=b"a cat").evolve(text="a cat", media={})
    b = make_sample(text=b"private").evolve(text="private", media={})
    verdicts = {a.sample_id: Verdict("d1" * 8, Action.RELABEL, "ana", text="a grey cat"), b.sample_id: Verdict("d2" * 8, Action.REJECT, "ana", note="private")}
    out = run_ops(build_ops(["text.canonical"]), [a, b], OpContext(batch="b"), verdicts)
    (relabelled,), (rejected,) = out.landed, out.quarantined
    assert ("steward.decision", "steward") in _kinds(relabelled) and relabelled.text == "a grey cat"
    assert _kinds(rejected) == [("steward.decision", "steward")] and "REJECTED" in rejected.sample.lineage[0].detail
