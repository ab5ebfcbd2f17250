"""The embedded dagster.yaml (the `tessera` command's default instance) loads as Dagster 1.13
reads it: queued runs, run monitoring and run retries on the DefaultRunLauncher, and the
daemons that act on them. (docker/dagster.yaml loads against real Postgres and S3 in
tests/production.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dagster import DagsterInstance
from dagster._check import CheckError
from dagster._core.launcher import DefaultRunLauncher
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._daemon.controller import create_daemons_from_instance

from tessera.orchestration.instance import REPO_DAGSTER_YAML


def _home(tmp_path: Path, text: str | None = None) -> Path:
    home = tmp_path / "dagster"
    home.mkdir()
    if text is None:
        shutil.copyfile(REPO_DAGSTER_YAML, home / "dagster.yaml")
    else:
        (home / "dagster.yaml").write_text(text)
    return home


def test_the_embedded_instance_monitors_and_retries_runs(tmp_path: Path) -> None:
    with DagsterInstance.from_config(str(_home(tmp_path))) as instance:
        assert isinstance(instance.run_launcher, DefaultRunLauncher) and isinstance(instance.run_coordinator, QueuedRunCoordinator)
        assert instance.run_monitoring_enabled and instance.run_monitoring_max_resume_run_attempts == 0
        assert instance.run_monitoring_start_timeout_seconds == 180 and instance.run_monitoring_settings["poll_interval_seconds"] == 60
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        assert not instance.run_retries_retry_on_asset_or_op_failure  # a failed quality gate is not retried
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 2
        daemons = {type(d).__name__ for d in create_daemons_from_instance(instance)}
    # MonitoringDaemon: run monitoring; EventLogConsumerDaemon: launches run retries
    assert {"MonitoringDaemon", "EventLogConsumerDaemon", "QueuedRunCoordinatorDaemon", "SensorDaemon"} <= daemons


def test_resuming_a_dead_run_worker_is_refused_with_the_default_run_launcher(tmp_path: Path) -> None:
    """Why dagster.yaml keeps max_resume_run_attempts at 0: Dagster refuses the instance otherwise."""
    text = REPO_DAGSTER_YAML.read_text()
    assert "max_resume_run_attempts: 0" in text
    home = _home(tmp_path, text.replace("max_resume_run_attempts: 0", "max_resume_run_attempts: 1"))
    with pytest.raises(CheckError, match="does not support resuming runs"):
        DagsterInstance.from_config(str(home))
