"""dvc repro runs the six stages through the tessera command; push/pull move the lake."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import skimage.data

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def _dvc() -> str:
    found = shutil.which("dvc") or str(REPO / ".venv-dvc" / "bin" / "dvc")
    if not Path(found).exists():
        pytest.fail("the DVC command line is missing: `make setup` builds .venv-dvc")
    return found


def _sh(*cmd: str, cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("dvc")
    origin = root / "origin"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    for rel in files.splitlines():
        if rel.startswith(("tests/", "bench/", "docker/")) or not (REPO / rel).is_file():
            continue
        (origin / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, origin / rel)
    drop = root / "drop"
    drop.mkdir()
    shutil.copyfile(Path(skimage.data.__file__).parent / "rocket.jpg", drop / "rocket.jpg")
    (drop / "rocket.txt").write_text("a rocket standing on a launchpad\n")
    (drop / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{Path(_dvc()).parent}:{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
    }  # fmt: skip
    for var in ("TESSERA_HOME", "DAGSTER_HOME", "TESSERA_LAKE_URI"):
        env.pop(var, None)
    _sh("git", "init", "-q", cwd=origin, env=env)
    _sh("git", "add", "-A", cwd=origin, env=env)
    _sh("git", "commit", "-qm", "project", cwd=origin, env=env)
    _sh("tessera", "ingest", str(drop), "--batch", "b1", cwd=origin, env={**env, "TESSERA_HOME": ".tessera"})
    repro = _sh(_dvc(), "repro", cwd=origin, env=env)
    return {"root": root, "origin": origin, "env": env, "repro": repro}


def test_repro_runs_every_stage_and_pins_the_lake(project):
    origin = project["origin"]
    for stage in ("raw", "cleaned", "unified", "aligned", "augmented", "embedded"):
        assert f"Running stage '{stage}'" in project["repro"]
    report = json.loads((origin / "reports" / "embedded.json").read_text())
    assert report[0]["batch"] == "b1" and report[0]["success"]
    raw = json.loads((origin / "reports" / "raw.json").read_text())[0]["stages"][0]
    assert (raw["in"], raw["landed"], raw["quarantined"]) == (3, 2, 0)  # 3 files → 2 samples (PNG magic passes sniffing)
    cleaned = json.loads((origin / "reports" / "cleaned.json").read_text())[0]["stages"][0]
    assert (cleaned["landed"], cleaned["by_reason"]) == (1, {"TRUNCATED": 1})  # bad.png ends inside the chunk its garbage declares
    lock = (origin / "dvc.lock").read_text()
    assert ".tessera/lake" in lock and ".dir" in lock
    status = _sh(_dvc(), "status", cwd=origin, env=project["env"])
    assert "up to date" in status


def test_push_then_pull_into_a_clone_gives_a_searchable_lake(project):
    origin, env = project["origin"], project["env"]
    _sh(_dvc(), "push", cwd=origin, env=env)
    _sh("git", "add", "-A", cwd=origin, env=env)
    _sh("git", "commit", "-qm", "release", cwd=origin, env=env)
    clone = project["root"] / "clone"
    _sh("git", "clone", "-q", str(origin), str(clone), cwd=project["root"], env=env)
    _sh(_dvc(), "remote", "modify", "--local", "local", "url", str(origin / ".tessera" / "dvc-remote"), cwd=clone, env=env)
    _sh(_dvc(), "pull", cwd=clone, env=env)
    assert (clone / ".tessera" / "lake" / "samples.lance").is_dir()
    hits = json.loads(_sh("tessera", "search", "rocket launchpad", "--json", cwd=clone, env={**env, "TESSERA_HOME": ".tessera"}))
    assert hits[0]["text"] == "a rocket standing on a launchpad"
