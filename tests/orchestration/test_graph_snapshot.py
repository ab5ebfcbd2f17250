"""Any change to the asset graph (keys, deps, checks, pools, tags, partitions) shows up here.

Regenerate after an intended change: TESSERA_UPDATE_SNAPSHOT=1 pytest tests/orchestration."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tessera.orchestration.definitions import STAGES, build_definitions

SNAPSHOT = Path(__file__).with_name("graph_snapshot.json")


def graph() -> dict:
    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    out = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets_def = node.assets_def
        out[key.to_user_string()] = {
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "checks": sorted(f"{c.name}:{'blocking' if c.blocking else 'non-blocking'}" for c in assets_def.check_specs),
            "pool": node.pools and sorted(node.pools) or None,
            "partitions": type(node.partitions_def).__name__ + ":" + getattr(node.partitions_def, "name", ""),
            "tags": dict(sorted(node.tags.items())),
            "kinds": sorted(node.kinds),
            "group": node.group_name,
            "has_code_version": bool(node.code_version),
        }
    return out


def test_asset_graph_matches_snapshot():
    current = graph()
    if os.environ.get("TESSERA_UPDATE_SNAPSHOT") or not SNAPSHOT.exists():
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    assert current == json.loads(SNAPSHOT.read_text())


def test_six_stages_in_a_chain_with_embedded_in_the_gpu_pool_and_the_release_after_them():
    g = graph()
    assert list(g) == sorted([*STAGES, "release"])
    assert g["release"]["deps"] == sorted(STAGES) and g["release"]["checks"] == [] and g["release"]["group"] == "releases"
    for upstream, stage in zip(STAGES, STAGES[1:], strict=False):
        assert g[stage]["deps"] == [upstream]
    assert g["raw"]["deps"] == []
    assert all(g[s]["checks"] == ["accounted_for:blocking", "quality:blocking"] for s in STAGES[:-1])
    assert g["embedded"]["checks"] == ["accounted_for:blocking", "quality:blocking", "retrieval:non-blocking"]  # the golden set's recall
    assert g["embedded"]["pool"] == ["gpu"] and all(g[s]["pool"] is None for s in STAGES[:-1])


def test_executor_concurrency_comes_from_params_or_environment(monkeypatch):
    def max_concurrent() -> int:
        executor = build_definitions().resolve_job_def("pipeline").executor_def
        assert executor.name == "multiprocess"
        return executor.apply_config_mapping({}).value["config"]["max_concurrent"]

    monkeypatch.delenv("TESSERA_MAX_CONCURRENT", raising=False)
    assert max_concurrent() == 2  # params.yaml execution.max_concurrent
    monkeypatch.setenv("TESSERA_MAX_CONCURRENT", "1")
    assert max_concurrent() == 1


def test_the_workspace_loads_and_validates(tmp_path) -> None:
    """What `dagster dev -w workspace.yaml` (and so `tessera ui`) loads."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "TESSERA_HOME": str(tmp_path / "home")}
    (tmp_path / "dagster.yaml").write_text((repo / "dagster.yaml").read_text())
    dagster = str(Path(sys.executable).parent / "dagster")
    proc = subprocess.run([dagster, "definitions", "validate", "-w", "workspace.yaml"], cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "All code locations passed validation" in proc.stderr + proc.stdout
