"""The embedded default Dagster instance under $TESSERA_HOME/dagster."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from dagster import DagsterInstance

from tessera.resources.home import tessera_home

REPO_DAGSTER_YAML = Path(__file__).resolve().parent.parent / "dagster.yaml"


def dagster_home() -> Path:
    """`DAGSTER_HOME` if set, else `$TESSERA_HOME/dagster` (created with the repo's dagster.yaml)."""
    home = Path(os.environ.get("DAGSTER_HOME") or tessera_home() / "dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copyfile(REPO_DAGSTER_YAML, home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


_INSTANCES: dict[Path, DagsterInstance] = {}


def get_instance() -> DagsterInstance:
    """One instance per Dagster home and process (opening one costs its storages' start-up)."""
    home = dagster_home()
    if home not in _INSTANCES:
        _INSTANCES[home] = DagsterInstance.get()
    return _INSTANCES[home]
