"""What `pip install` of the project gives a user: one package, `tessera`, holding the repository's
folders as subpackages, its defaults (params.yaml, dagster.yaml, workspace.yaml) and the steward's
templates; it imports beside another package named `core`."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.test_layout import ROOT, SUBPACKAGES


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = tmp_path_factory.mktemp("src")
    # build from a copy of the tracked tree: the checkout's own build/ and egg-info stay untouched
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        src, dst = ROOT / name, build / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            dst.symlink_to(os.readlink(src))
        elif src.is_file():
            dst.write_bytes(src.read_bytes())
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(build)], check=True, timeout=600)
    (found,) = out.glob("tessera-*.whl")
    return found


def test_the_wheel_adds_only_the_tessera_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"tessera", wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"}
    tracked = subprocess.run(["git", "ls-files", *SUBPACKAGES], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    sources = {f"tessera/{name}" for name in tracked if name.endswith(".py")}
    assert sources - set(names) == set(), "modules missing from the wheel (add their package to pyproject.toml)"
    for data in ("tessera/params.yaml", "tessera/dagster.yaml", "tessera/workspace.yaml", "tessera/steward/templates/queue.html"):
        assert data in names
    with zipfile.ZipFile(wheel) as z:
        assert z.read("tessera/params.yaml") == (ROOT / "params.yaml").read_bytes()  # the file, not a link
    entry = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "tessera = tessera.orchestration.cli:main" in entry


def test_installed_tessera_imports_beside_a_package_named_core(wheel: Path, tmp_path: Path) -> None:
    target, theirs = tmp_path / "site", tmp_path / "theirs"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)], check=True)
    (theirs / "core").mkdir(parents=True)
    (theirs / "core" / "__init__.py").write_text("WHO = 'their core'\n")
    probe = (
        "import core, tessera, tessera.core.records, tessera.orchestration.definitions\n"
        "from tessera.resources.params import load_params\n"
        "print(core.WHO); print(tessera.core.records.__file__); print(sorted(load_params()))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(theirs)]), "TESSERA_HOME": str(tmp_path / "home")}
    env.pop("TESSERA_PARAMS", None)
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    who, where, sections = done.stdout.splitlines()[-3:]
    assert who == "their core" and Path(where).is_relative_to(target)
    assert "cleaned" in sections and "embedded" in sections
