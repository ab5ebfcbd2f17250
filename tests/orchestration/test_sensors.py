"""The landing_drops sensor, evaluated the way the daemon does."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DagsterInstance, SensorResult, SkipReason, build_sensor_context

from tessera.orchestration.sensors import landing_drops
from tessera.resources.lake import LakeResource


@pytest.fixture
def landing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "landing"
    for name, ready in (("drop 2026-11-01", True), ("drop-2026-11-02", False)):
        (root / name).mkdir(parents=True)
        (root / name / "cat.txt").write_text("a cat")
        if ready:
            (root / name / "_READY").write_text("")
    (root / "drop 2026-11-01" / "manifest.csv").write_text("path,text\ncat.txt,\n")
    monkeypatch.setenv("TESSERA_LANDING_ROOT", str(root))
    return root


def test_a_complete_drop_becomes_a_batch_and_a_run_and_only_once(tmp_path: Path, landing: Path) -> None:
    lake = LakeResource(uri=str(tmp_path / "lake"), lock_dir=str(tmp_path / "locks"))
    with DagsterInstance.ephemeral() as instance:
        result = landing_drops(build_sensor_context(instance=instance, resources={"lake": lake}))
        assert isinstance(result, SensorResult)
        assert [r.partition_key for r in result.run_requests] == ["drop-2026-11-01"]  # the unready drop waits
        assert result.dynamic_partitions_requests[0].partition_keys == ["drop-2026-11-01"]
        info = lake.batch_info("drop-2026-11-01")
        assert info["uri"] == str((landing / "drop 2026-11-01").resolve()) and info["manifest"].endswith("manifest.csv")
        instance.add_dynamic_partitions("batch", ["drop-2026-11-01"])  # what the daemon does with the request
        again = landing_drops(build_sensor_context(instance=instance, resources={"lake": lake}))
        assert isinstance(again, SkipReason) and "no new complete drop" in again.skip_message


def test_without_a_landing_root_the_sensor_says_why_it_skips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TESSERA_LANDING_ROOT", raising=False)
    with DagsterInstance.ephemeral() as instance:
        result = landing_drops(build_sensor_context(instance=instance, resources={"lake": LakeResource(uri=str(tmp_path))}))
    assert isinstance(result, SkipReason) and "TESSERA_LANDING_ROOT" in result.skip_message
