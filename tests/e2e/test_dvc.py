"""DVC for real: `dvc repro` runs the six stages through the tessera command, `dvc status` names the
stages a change makes stale, and a release pushed to the remote comes back, digest for digest,
in a fresh clone (`git checkout v1 && dvc pull`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.e2e.dvc_project import REPO, drop, dvc, environment, project, release, sh, tessera, tree_bytes

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A project with batch b1 run by `dvc repro` and released as v1, then batch b2 and v2."""
    root = tmp_path_factory.mktemp("dvc")
    env = environment()
    origin = project(root / "origin", env)
    first = drop(root / "drop1", {"rocket.jpg": "rocket.jpg"}, {"bad.png": b"\x89PNG\r\n\x1a\nnot really"})
    tessera("ingest", str(first), "--batch", "b1", cwd=origin, env=env)
    repro = sh(dvc(), "repro", cwd=origin, env=env)
    release("v1", origin, env)
    after_v1 = tree_bytes(origin / ".tessera" / "dvc-remote")
    tessera("ingest", str(drop(root / "drop2", {"coffee.png": "coffee.png"})), "--batch", "b2", cwd=origin, env=env)
    sh(dvc(), "repro", cwd=origin, env=env)
    release("v2", origin, env)
    return {"root": root, "origin": origin, "env": env, "repro": repro, "remote_after_v1": after_v1}


def _digests(lake_home: Path, name: str, env: dict) -> dict:
    """Every table's row count and content digest at release `name`, read in the project at `lake_home`."""
    script = (
        "import json, sys; from tessera.resources.store import Lake; from tessera.resources.releases import manifest, table_digest; "
        f"lake = Lake(); m = manifest(lake, {name!r}); "
        "print(json.dumps({t: table_digest(lake, t, v) for t, v in m['versions'].items()}))"
    )
    return json.loads(sh("python", "-c", script, cwd=lake_home, env={**env, "TESSERA_HOME": ".tessera", "PYTHONPATH": str(REPO)}))


def test_repro_runs_every_stage_and_each_stage_reports_its_table(released) -> None:
    origin = released["origin"]
    for stage in ("raw", "cleaned", "unified", "aligned", "augmented", "embedded"):
        assert f"Running stage '{stage}'" in released["repro"]
    report = json.loads((origin / "reports" / "raw.json").read_text())
    raw = next(b for b in report["batches"] if b["batch"] == "b1")["stages"][0]
    assert (raw["in"], raw["landed"], raw["quarantined"]) == (3, 2, 0)  # 3 files → 2 samples (PNG magic passes sniffing)
    assert report["tables"]["raw"]["rows"] >= 2 and len(report["tables"]["raw"]["digest"]) == 64
    lock = (origin / "dvc.lock").read_text()
    assert ".tessera/lake" in lock and ".dir" in lock
    assert "up to date" in sh(dvc(), "status", cwd=origin, env=released["env"])  # the release committed what it tagged


def test_a_release_comes_back_digest_for_digest_in_a_fresh_clone(released) -> None:
    origin, env, root = released["origin"], released["env"], released["root"]
    clone = root / "clone"
    sh("git", "clone", "-q", str(origin), str(clone), cwd=root, env=env)
    sh(dvc(), "remote", "modify", "--local", "local", "url", str(origin / ".tessera" / "dvc-remote"), cwd=clone, env=env)
    for name in ("v1", "v2"):
        sh("git", "checkout", "-q", name, cwd=clone, env=env)
        sh(dvc(), "pull", "-q", cwd=clone, env=env)
        manifest = json.loads((clone / "releases" / f"{name}.json").read_text())
        assert _digests(clone, name, env) == manifest["digests"]  # every table: same rows, same content
        samples = json.loads(tessera("status", "--release", name, "--json", cwd=clone, env=env))
        assert sorted(s["batch"] for s in samples) == (["b1"] if name == "v1" else ["b1", "b2"])
    hits = json.loads(tessera("search", "a photo of coffee", "--json", cwd=clone, env=env))
    assert hits[0]["text"] == "a photo of coffee"
    # and the loader trains on a release there: v1's pictures, decoded
    script = (
        "import json, tessera; ds = tessera.connect('.tessera', release='v1').dataset(modalities=['image'], require=['image'], image_size=32, variants=False); "
        "b = tessera.collate([ds[i] for i in range(len(ds))]); print(json.dumps([len(ds), list(b['image'].shape), bool(b['mask']['image'].all())]))"
    )
    n, shape, all_present = json.loads(sh("python", "-c", script, cwd=clone, env={**env, "PYTHONPATH": str(REPO)}).splitlines()[0])
    assert n >= 1 and shape == [n, 3, 32, 32] and all_present
    # Lance never rewrites a file: v2's push added only what is new (v1 + v2 stored ≈ v2 alone)
    both, v2_alone = tree_bytes(origin / ".tessera" / "dvc-remote"), tree_bytes(clone / ".tessera" / "lake")
    ratio = both / v2_alone
    print(f"\nremote after v1: {released['remote_after_v1']} B; after v1 + v2: {both} B; v2's lake alone: {v2_alone} B; ratio {ratio:.3f}")
    assert ratio < 1.1


def test_dvc_status_names_only_the_stage_whose_settings_changed(released) -> None:
    origin, env = released["origin"], released["env"]
    params = yaml.safe_load((origin / "params.yaml").read_text())
    params["augmented"]["ops"] = [op for op in params["augmented"]["ops"] if op != "timeline.build" and not (isinstance(op, dict) and "timeline.build" in op)]
    original = (origin / "params.yaml").read_text()
    (origin / "params.yaml").write_text(yaml.safe_dump(params))
    try:
        status = sh(dvc(), "status", cwd=origin, env=env)
        assert "augmented:" in status and "changed deps" in status
        assert not any(f"{s}:" in status for s in ("raw", "cleaned", "unified", "aligned"))
    finally:
        (origin / "params.yaml").write_text(original)


def test_every_core_module_is_a_dependency_of_every_stage() -> None:
    """A stage's output changes with the code it runs: a core module missing from dvc.yaml's deps
    would leave `dvc status` blind to it."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    modules = {p.relative_to(REPO).as_posix() for p in (REPO / "core").glob("*.py")}
    for name, stage in stages.items():
        assert modules <= set(stage["deps"]), (name, sorted(modules - set(stage["deps"])))
        assert f"assets/{name}.py" in stage["deps"]
