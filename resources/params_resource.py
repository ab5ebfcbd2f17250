"""params.yaml as a Dagster resource: which file a run reads (resources/params.py reads it)."""

from __future__ import annotations

from typing import Any

from dagster import ConfigurableResource

from tessera.resources.params import load_params


class ParamsResource(ConfigurableResource):
    """Where stage parameters come from (`path` empty → the repository's params.yaml)."""

    path: str = ""

    def all(self) -> dict[str, Any]:
        return load_params(self.path or None)

    def stage(self, stage: str) -> dict[str, Any]:
        section = self.all().get(stage)
        if not isinstance(section, dict):
            raise KeyError(f"params.yaml has no section {stage!r}")
        return section
