"""Indexes grow per batch (resources/indexes.py), on real LanceDB tables.

The vectors here are index plumbing vectors: seeded random unit vectors made with numpy,
not embeddings of anything. What is asserted is what Lance itself reports (segments, their
uuids and the fragments they cover) and what a search returns."""

from __future__ import annotations

from pathlib import Path

import lance
import lancedb
import numpy as np
import pytest

from tessera.resources.indexes import IndexParams, ensure_scalar_indexes, index_states, update_indexes
from tests.resources.plumbing import VEC, plumbing_vectors, samples_batch


def params(ann_min_rows: int) -> dict:
    return {"indexes": {"ann_min_rows": ann_min_rows}}


@pytest.fixture
def db(tmp_path: Path) -> lancedb.DBConnection:
    return lancedb.connect(tmp_path / "lake")


def test_a_second_batch_joins_every_index_as_a_delta_segment_without_a_rebuild(db) -> None:
    first, second = plumbing_vectors(200, seed=1), plumbing_vectors(100, seed=2)
    table = db.create_table("samples", samples_batch("b1", first, first=0))
    report = update_indexes(table, params(ann_min_rows=150))
    assert set(report["created"]) == {f"{VEC}_idx", "search_text_idx", "sample_id_idx", "batch_idx", "status_idx"}
    before = index_states(lance.dataset(table.uri))

    table.add(samples_batch("b2", second, first=200))
    new_fragment = max(f.fragment_id for f in lance.dataset(table.uri).get_fragments())
    report = update_indexes(table, params(ann_min_rows=150))

    assert report["created"] == {} and set(report["updated"]) == set(before)
    after = index_states(lance.dataset(table.uri))
    for name, old in before.items():
        new = after[name]
        assert new.uuids[: old.segments] == old.uuids, f"{name}: an existing segment was rebuilt"
        assert new.segments == old.segments + 1
        assert new.rows_indexed == 300 and new.rows_unindexed == 0
    ds = lance.dataset(table.uri)
    delta = [s for d in ds.describe_indices() if d.name == f"{VEC}_idx" for s in d.segments if str(s.uuid) == after[f"{VEC}_idx"].uuids[-1]]
    assert sorted(int(f) for f in delta[0].fragment_ids) == [new_fragment]  # the delta covers the batch, nothing else

    # the new batch is found through each index
    table.checkout_latest()
    hit = table.search(second[7], vector_column_name=VEC).limit(1).to_list()[0]
    assert hit["sample_id"] == "b2-00207"
    assert {r["batch"] for r in table.search("b2word", query_type="fts").limit(5).to_list()} == {"b2"}
    assert "ScalarIndexQuery" in ds.scanner(filter="batch = 'b2'").explain_plan()
    assert ds.count_rows(filter="batch = 'b2'") == 100


def test_nothing_new_means_no_commit(db) -> None:
    table = db.create_table("samples", samples_batch("b1", plumbing_vectors(50, seed=3), first=0))
    update_indexes(table, params(ann_min_rows=10))
    version = lance.dataset(table.uri).version
    report = update_indexes(table, params(ann_min_rows=10))
    assert report["created"] == report["updated"] == {} and lance.dataset(table.uri).version == version


def test_below_the_threshold_search_is_flat_and_exact_and_above_it_an_ann_index_appears(db) -> None:
    vectors = plumbing_vectors(300, seed=4)
    table = db.create_table("samples", samples_batch("b1", vectors, first=0))
    report = update_indexes(table, params(ann_min_rows=400))
    assert VEC in report["skipped"] and "ann_min_rows 400" in report["skipped"][VEC]
    assert f"{VEC}_idx" not in index_states(lance.dataset(table.uri))
    for q in plumbing_vectors(5, seed=40):  # flat search finds the exact nearest row
        exact = int(np.argmax(vectors @ q))
        assert table.search(q, vector_column_name=VEC).limit(1).to_list()[0]["sample_id"] == f"b1-{exact:05d}"

    table.add(samples_batch("b2", plumbing_vectors(150, seed=5), first=300))
    report = update_indexes(table, params(ann_min_rows=400))
    assert f"{VEC}_idx" in report["created"]
    state = index_states(lance.dataset(table.uri))[f"{VEC}_idx"]
    assert state.kind == "IVF_HNSW_SQ" and state.rows_unindexed == 0 and state.rows_indexed == 450


def test_rows_without_a_vector_do_not_count_towards_the_threshold(db) -> None:
    table = db.create_table("samples", samples_batch("b1", plumbing_vectors(300, seed=6), first=0, null_every=3), on_bad_vectors="null")
    report = update_indexes(table, params(ann_min_rows=250))
    assert report["skipped"][VEC].startswith("200 vectors <")  # 300 rows, 100 of them without a vector


def test_scalar_indexes_on_a_lance_dataset_are_created_then_grown(tmp_path: Path) -> None:
    uri = str(tmp_path / "stage.lance")
    lance.write_dataset(samples_batch("b1", plumbing_vectors(40, seed=7), first=0).drop_columns([VEC]), uri)
    report = ensure_scalar_indexes(lance.dataset(uri), {"sample_id": "BTREE", "batch": "BITMAP", "row_id": "BTREE"})
    assert set(report["created"]) == {"sample_id_idx", "batch_idx"} and report["skipped"] == {"row_id": "no such column"}
    uuids = {n: s.uuids for n, s in index_states(lance.dataset(uri)).items()}

    lance.write_dataset(samples_batch("b2", plumbing_vectors(10, seed=8), first=40).drop_columns([VEC]), uri, mode="append")
    report = ensure_scalar_indexes(lance.dataset(uri), {"sample_id": "BTREE", "batch": "BITMAP"})
    assert report["created"] == {} and set(report["updated"]) == {"sample_id_idx", "batch_idx"}
    for name, state in index_states(lance.dataset(uri)).items():
        assert state.uuids[:1] == uuids[name] and state.segments == 2 and state.rows_unindexed == 0


@pytest.mark.parametrize(
    ("section", "says"),
    [
        ({"ann_min_row": 5}, "indexes.ann_min_row: unknown key"),
        ({"ann": {"kind": "FLAT"}}, "indexes.ann.kind: 'FLAT'"),
        ({"ann": {"kind": "IVF_HNSW_SQ", "nprobes": 3}}, "indexes.ann:"),
        ({"scalar": {"batch": "HASH"}}, "indexes.scalar: batch: HASH"),
    ],
)
def test_bad_index_params_are_named(section: dict, says: str) -> None:
    with pytest.raises(ValueError, match=says.replace("(", r"\(")):
        IndexParams.from_params({"indexes": section})


def test_the_repository_params_parse() -> None:
    from tessera.resources.params import load_params

    cfg = IndexParams.from_params(load_params())
    assert cfg.ann_min_rows > 0 and cfg.ann_kind in {"IVF_HNSW_SQ", "IVF_PQ"}
