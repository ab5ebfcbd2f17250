"""The maintenance job, its nightly schedule and `tessera maintain`, over a real local lake.

The lake's `samples` rows carry index plumbing vectors (seeded numpy unit vectors)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import lance
import lancedb
import pytest
import yaml
from dagster import DagsterInstance, DefaultScheduleStatus

from tessera.orchestration.definitions import build_definitions
from tessera.resources.indexes import update_indexes
from tessera.resources.lake import LakeResource
from tessera.resources.params import load_params
from tests.resources.plumbing import plumbing_vectors, samples_batch

REPO = Path(__file__).resolve().parents[2]


def _params_file(tmp_path: Path, **maintenance) -> Path:
    """The repository's params with a maintenance section that acts on a tiny lake."""
    params = load_params()
    params = {**params, "indexes": {**params["indexes"], "ann_min_rows": 100}}
    params["maintenance"] = {**params["maintenance"], "compact_min_fragments": 2, "keep_versions_days": 0, **maintenance}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def _lake_with_batches(uri: Path, params: Path, batches: int = 4) -> str:
    table = lancedb.connect(uri).create_table("samples", samples_batch("b0", plumbing_vectors(50, seed=0), first=0))
    for i in range(1, batches):
        table.add(samples_batch(f"b{i}", plumbing_vectors(50, seed=i), first=50 * i))
        update_indexes(table, load_params(params))
    return table.uri


def test_the_maintenance_job_compacts_the_lake(tmp_path: Path, tessera_home: Path) -> None:
    params = _params_file(tmp_path)
    uri = _lake_with_batches(tessera_home / "lake", params)
    defs = build_definitions(path=params, resources={"lake": LakeResource(uri=str(tessera_home / "lake"))})

    result = defs.resolve_job_def("maintenance").execute_in_process(instance=DagsterInstance.ephemeral())

    assert result.success
    report = result.output_for_node("maintain_lake")
    assert report["errors"] == [] and report["tables"]["samples"]["fragments"] == [4, 1]
    assert len(lance.dataset(uri).get_fragments()) == 1 and lance.dataset(uri).count_rows() == 200
    materialization = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"][0]
    assert materialization.event_specific_data.metadata["tables"].value == 1


def test_the_nightly_schedule_is_registered_and_off_by_default() -> None:
    schedule = build_definitions().resolve_schedule_def("nightly_maintenance")
    assert schedule.cron_schedule == "0 3 * * *" and schedule.job_name == "maintenance"
    assert schedule.default_status == DefaultScheduleStatus.STOPPED


def _tessera(*args: str, home: Path, params: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "TESSERA_HOME": str(home), **({"TESSERA_PARAMS": str(params)} if params else {})}
    env.pop("TESSERA_LAKE_URI", None)
    return subprocess.run([sys.executable, "-m", "tessera.orchestration.cli", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_tessera_maintain_prints_a_line_per_table_and_speaks_json(tmp_path: Path) -> None:
    home = tmp_path / "home"
    params = _params_file(tmp_path)
    _lake_with_batches(home / "lake", params)

    proc = _tessera("maintain", "--json", home=home, params=params)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report["tables"]["samples"]["fragments"] == [4, 1] and report["errors"] == []

    proc = _tessera("maintain", home=home, params=params)
    assert proc.returncode == 0, proc.stderr[-2000:]
    [line] = proc.stdout.strip().splitlines()
    assert line.startswith("samples") and "200 rows, fragments 1→1" in line


def test_tessera_maintain_fails_in_one_line_on_bad_params(tmp_path: Path, tessera_home: Path, monkeypatch, capsys) -> None:
    from tessera.orchestration.cli import main

    monkeypatch.setenv("TESSERA_PARAMS", str(_params_file(tmp_path, keep_version_days=3)))
    assert main(["maintain"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tessera maintain: params.yaml maintenance.keep_version_days: unknown key"), lines
