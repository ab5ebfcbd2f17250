"""A throw-away git + DVC project made from this repository's tracked files, for the DVC round
trips (local remote in tests/e2e/test_dvc.py, S3 in tests/s3/test_s3_dvc.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import skimage.data

REPO = Path(__file__).resolve().parents[2]
PHOTOS = Path(skimage.data.__file__).parent


def dvc() -> str:
    found = shutil.which("dvc") or str(REPO / ".venv-dvc" / "bin" / "dvc")
    if not Path(found).exists():
        pytest.fail("the DVC command line is missing: `make setup` builds .venv-dvc")
    return found


def sh(*cmd: str, cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{Path(dvc()).parent}:{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
        **(extra or {}),
    }  # fmt: skip
    for var in ("TESSERA_HOME", "DAGSTER_HOME", "TESSERA_LAKE_URI", "TESSERA_RELEASES_DIR", "TESSERA_PARAMS"):
        env.pop(var, None)
    return env


def project(origin: Path, env: dict[str, str]) -> Path:
    """The repository's tracked files (less tests, benches and docker files) as a fresh git repo."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    for rel in files.splitlines():
        if rel.startswith(("tests/", "bench/", "docker/", "releases/")) or not (REPO / rel).is_file():
            continue
        (origin / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, origin / rel)
    sh("git", "init", "-q", cwd=origin, env=env)
    sh("git", "add", "-A", cwd=origin, env=env)
    sh("git", "commit", "-qm", "project", cwd=origin, env=env)
    return origin


def drop(root: Path, files: dict[str, str], extra: dict[str, bytes] | None = None) -> Path:
    """Captioned scikit-image photos {name in the drop: photo file}, and raw `extra` files."""
    root.mkdir(parents=True)
    for name, photo in files.items():
        shutil.copyfile(PHOTOS / photo, root / name)
        (root / name).with_suffix(".txt").write_text(f"a photo of {Path(photo).stem}\n")
    for name, data in (extra or {}).items():
        (root / name).write_bytes(data)
    return root


def tessera(*args: str, cwd: Path, env: dict[str, str]) -> str:
    """The `tessera` command in the project, on its own .tessera (as dvc.yaml runs it)."""
    return sh("tessera", *args, cwd=cwd, env={**env, "TESSERA_HOME": ".tessera"})


def release(name: str, cwd: Path, env: dict[str, str]) -> None:
    """`tessera release NAME` (which commits and pushes the lake with DVC), then a git commit and tag."""
    tessera("release", name, cwd=cwd, env=env)
    sh("git", "add", "-A", cwd=cwd, env=env)
    sh("git", "commit", "-qm", f"release {name}", cwd=cwd, env=env)
    sh("git", "tag", name, cwd=cwd, env=env)


def tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
