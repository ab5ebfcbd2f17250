"""Releases as a user cuts and reads them: `tessera release`, `releases`, `release diff`,
`status` / `search --release`, through Dagster on a real lake; a release outlives maintenance."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import lance
import pytest
import skimage.data

from tessera.orchestration.cli import delete_batch, ingest, main, materialize
from tessera.resources.lake import LakeResource
from tessera.resources.releases import manifest, table_digest

pytestmark = pytest.mark.slow
PHOTOS = Path(skimage.data.__file__).parent


def _drop(root: Path, files: dict[str, str]) -> Path:
    """Photos from scikit-image with captions: {name in the drop: photo file}."""
    root.mkdir(parents=True)
    for name, photo in files.items():
        shutil.copyfile(PHOTOS / photo, root / name)
        (root / name).with_suffix(".txt").write_text(f"a photo of {Path(photo).stem}\n")
    return root


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> dict | list:
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def released(tessera_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> dict:
    monkeypatch.setenv("TESSERA_RELEASES_DIR", str(tessera_home / "releases"))
    a = _drop(tessera_home / "drops/a", {"rocket.jpg": "rocket.jpg", "cat.png": "chelsea.png"})
    ingest(str(a), "a")
    assert materialize("a", quiet=True)["success"]
    v1 = _cli(capsys, "release", "v1", "--note", "first week")
    b = _drop(tessera_home / "drops/b", {"coffee.png": "coffee.png"})
    ingest(str(b), "b")
    assert materialize("b", quiet=True)["success"]
    v2 = _cli(capsys, "release", "v2")
    return {"home": tessera_home, "v1": v1, "v2": v2, "lake": LakeResource()}


def test_a_release_tags_every_table_and_records_what_it_holds(released: dict, capsys: pytest.CaptureFixture[str]) -> None:
    lake, v1 = released["lake"], released["v1"]
    assert {"samples", "raw", "cleaned", "unified", "aligned", "augmented", "blobs", "batches", "near_index"} <= set(v1["versions"])
    for table, version in v1["versions"].items():
        assert lake.dataset(table).tags.list()["v1"]["version"] == version
    assert json.loads(Path(v1["path"]).read_text())["digests"] == v1["digests"] == manifest(lake, "v1")["digests"]
    assert v1["counts"]["embedded"]["batch"] == {"a": 4} and v1["counts"]["embedded"]["modality"] == {"text+image": 4}  # 2 photos + 2 flips
    assert v1["distributions"]["cleaned"]["width"]["n"] == 2 and v1["note"] == "first week"
    assert v1["gx"]["a"]["embedded"] == {"accounted_for": "passed", "quality": "passed"}
    assert set(v1["code_versions"]) == {"raw", "cleaned", "unified", "aligned", "augmented", "embedded"}
    assert any(c.startswith("vec_text__") for c in v1["models"])
    listed = _cli(capsys, "releases")
    assert [r["name"] for r in listed] == ["v1", "v2"]
    assert main(["release", "v1"]) == 1 and "releases are immutable" in capsys.readouterr().err


def test_reading_a_release_gives_what_it_held(released: dict, capsys: pytest.CaptureFixture[str]) -> None:
    (status,) = _cli(capsys, "status", "--release", "v1")
    assert status["batch"] == "a" and status["release"] == "v1" and status["stages"][-1]["landed"] == 2
    hits = _cli(capsys, "search", "a photo of coffee", "--release", "v1")
    assert "a photo of coffee" not in {h["text"] for h in hits}
    assert "a photo of coffee" in {h["text"] for h in _cli(capsys, "search", "a photo of coffee", "--release", "v2")}
    assert main(["search", "cat", "--release", "v9"]) == 1 and "no release named 'v9'" in capsys.readouterr().err


def test_diff_names_what_came_and_what_left_and_why(released: dict, capsys: pytest.CaptureFixture[str]) -> None:
    d = _cli(capsys, "release", "diff", "v1", "v2")
    assert d["added"]["count"] == 2 and d["removed"]["count"] == 0 and d["changed"]["count"] == 0  # the coffee photo and its flipped variant
    assert d["counts"]["embedded.batch.b"] == {"from": None, "to": 2}
    out = delete_batch("a")
    assert [r["success"] for r in out["reruns"]] == []
    _cli(capsys, "release", "v3")
    d = _cli(capsys, "release", "diff", "v2", "v3")
    assert d["removed"]["count"] == 4 and d["added"]["count"] == 0  # a's two photos and their variants
    assert all("no batch of the release carries it" in r["why"] for r in d["removed"]["samples"])
    assert main(["release", "diff", "v1", "v2"]) == 0 and "2 samples added, 0 removed" in capsys.readouterr().out


def test_a_release_outlives_maintenance(released: dict, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Compaction and a cleanup of every version older than now: v1's tag keeps its version readable."""
    import yaml

    from tessera.resources.params import load_params

    lake, v1 = released["lake"], released["v1"]
    params = load_params()
    params["maintenance"] = {**params["maintenance"], "keep_versions_days": 0, "compact_min_fragments": 2}
    path = released["home"] / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    monkeypatch.setenv("TESSERA_PARAMS", str(path))
    assert main(["maintain"]) == 0
    capsys.readouterr()
    samples = lance.dataset(lake.dataset_uri("samples"), version="v1")
    assert samples.version == v1["versions"]["samples"]
    assert table_digest(lake, "samples", v1["versions"]["samples"]) == v1["digests"]["samples"]


def test_the_drift_gate_measures_new_batches_against_the_last_release(released: dict) -> None:
    """Once a release exists, a stage's drift baseline is the release's summary of that stage's
    main metrics (median and robust spread), not the previous batch's values."""
    from types import SimpleNamespace

    from tessera.assets.factory import _baseline

    base = _baseline(SimpleNamespace(lake=released["lake"], stage="cleaned", batch="b"))
    assert base == released["v2"]["distributions"]["cleaned"] and base["width"]["n"] == 3  # v2 holds a's two photos and b's one


def test_a_release_is_a_materialization_of_the_release_asset_in_dagster(released: dict) -> None:
    from dagster import AssetKey, DagsterInstance

    event = DagsterInstance.get().get_latest_materialization_event(AssetKey("release"))
    meta = event.asset_materialization.metadata
    assert meta["release"].value == "v2" and meta["versions"].value == released["v2"]["versions"]
