"""Nothing is done twice: a stage whose inputs, code, params and decisions are those of its last
run for the batch, and whose rows are as that run left them, is skipped — Dagster still shows it
fresh at the same data version — and anything that changes one of those runs it again."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import skimage.data
from dagster import AssetKey, DagsterInstance

from tessera.orchestration.cli import delete_batch, ingest, materialize
from tessera.resources.lake import STAGE_TABLES, LakeResource

pytestmark = pytest.mark.slow
PHOTOS = Path(skimage.data.__file__).parent
THROUGH = ["raw", "cleaned", "unified"]


def _drop(root: Path) -> Path:
    root.mkdir(parents=True)
    shutil.copyfile(PHOTOS / "rocket.jpg", root / "rocket.jpg")
    (root / "rocket.txt").write_text("a rocket standing on a launchpad\n")
    for i in range(3):
        (root / f"note{i}.txt").write_text(f"field note {i}: the tide came in early and the gulls left\n")
    return root


def _latest(stage: str, batch: str) -> tuple[str, str, dict[str, Any]]:
    """(run id, data version, metadata) of the stage's latest materialization for the batch."""
    record = DagsterInstance.get().get_latest_data_version_record(AssetKey(stage), is_source=False, partition_key=batch)
    assert record is not None
    mat = record.event_log_entry.asset_materialization
    return record.event_log_entry.run_id, mat.tags["dagster/data_version"], {k: v.value for k, v in mat.metadata.items()}


def _run_ids(stage: str, batch: str) -> set[str]:
    return set(LakeResource().dataset(STAGE_TABLES[stage]).to_table(columns=["run_id"], filter=f"batch = '{batch}'")["run_id"].to_pylist())


def test_an_unchanged_stage_is_skipped_and_shown_fresh_and_a_change_runs_it_again(tessera_home: Path) -> None:
    drop = _drop(tessera_home / "drops/a")
    ingest(str(drop), "a")
    first = materialize("a", ["raw"], quiet=True)
    assert first["success"] and first["skipped"] == []
    raw_run, raw_version, raw_meta = _latest("raw", "a")

    through = materialize("a", THROUGH, quiet=True)  # raw is unchanged: only cleaned and unified work
    assert through["success"] and through["skipped"] == ["raw"]
    assert _run_ids("raw", "a") == {raw_run}  # raw's rows are the first run's, not rewritten
    run, version, meta = _latest("raw", "a")
    assert run == through["run_id"] and version == raw_version  # a new materialization at the same data version: fresh
    assert (meta["in"], meta["landed"], meta["quarantined"]) == (raw_meta["in"], raw_meta["landed"], raw_meta["quarantined"])
    assert meta["skipped"] == f"unchanged since run {raw_run}" and meta["seconds"] < 1.0
    assert all(through["checks_passed"].values()) and "raw:accounted_for" in through["checks_passed"]

    again = materialize("a", THROUGH, quiet=True)
    assert again["skipped"] == THROUGH and again["stages"] == through["stages"]

    forced = materialize("a", ["raw"], quiet=True, force=True)  # --force: the work again
    assert forced["skipped"] == [] and _run_ids("raw", "a") == {forced["run_id"]}
    assert _latest("raw", "a")[1] == raw_version  # the same content: the same data version

    time.sleep(0.01)
    (drop / "note2.txt").write_text("field note 2, rewritten: the tide came in late\n")  # a file changed in place
    changed = materialize("a", THROUGH, quiet=True)
    assert changed["skipped"] == [] and _latest("raw", "a")[1] != raw_version
    assert _run_ids("cleaned", "a") == {changed["run_id"]}


def test_a_batch_deleted_and_ingested_again_is_done_again(tessera_home: Path) -> None:
    drop = _drop(tessera_home / "drops/b")
    ingest(str(drop), "b")
    assert materialize("b", THROUGH, quiet=True)["skipped"] == []
    delete_batch("b")
    ingest(str(drop), "b")  # the same name and files: a new batch, whose rows are gone from the lake
    again = materialize("b", THROUGH, quiet=True)
    assert again["success"] and again["skipped"] == []
    assert LakeResource().dataset(STAGE_TABLES["unified"]).count_rows("batch = 'b' AND status = 'landed'") == again["stages"][2]["landed"] > 0
