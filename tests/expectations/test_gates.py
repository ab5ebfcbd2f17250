"""Quality gates through Dagster: an `error` expectation quarantines its failing rows as GATE
and stops the stages after it; `warn` never blocks; `review` fills the steward's queue and
blocks nothing, and a steward's approval against the gate holds on the next run."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import skimage.data
import yaml
from PIL import Image

from tessera.orchestration.cli import ingest, main, materialize
from tessera.orchestration.instance import get_instance
from tessera.resources.lake import LakeResource
from tessera.resources.params import DEFAULT_PARAMS

pytestmark = pytest.mark.slow
PHOTOS = Path(skimage.data.__file__).parent


@pytest.fixture
def gated(tessera_home: Path, monkeypatch: pytest.MonkeyPatch):
    """A drop with one photo and one all-black frame (brightness 0: under the 0.02 floor)."""

    def make(severity: str) -> tuple[str, str]:
        params = yaml.safe_load(Path(DEFAULT_PARAMS).read_text())
        params["gates"]["severity"] = {"cleaned.brightness": severity}
        path = tessera_home / "params.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(params))
        monkeypatch.setenv("TESSERA_PARAMS", str(path))
        drop = tessera_home / "drops/a"
        drop.mkdir(parents=True)
        shutil.copyfile(PHOTOS / "coffee.png", drop / "coffee.png")
        Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(drop / "black.png")
        ingest(str(drop), "a")
        return "a", "black.png"

    return make


def tessera_home_of(lake: LakeResource) -> Path:
    return Path(lake.resolved_uri()).parent


def _rows(lake: LakeResource, table: str) -> dict[str, dict]:
    return {r["source"]: r for r in lake.dataset(table).to_table(filter="batch = 'a' AND parent_id IS NULL").to_pylist()}


def _quality(stage: str):
    records = get_instance().get_latest_asset_check_evaluation_record(_check_key(stage))
    return records.event.asset_check_evaluation if records else None


def _check_key(stage: str):
    from dagster import AssetCheckKey, AssetKey

    return AssetCheckKey(AssetKey(stage), "quality")


def test_an_error_expectation_quarantines_its_rows_and_stops_the_stages_after_it(gated) -> None:
    batch, black = gated("error")
    result = materialize(batch, quiet=True)
    assert not result["success"]
    lake = LakeResource()
    row = next(r for src, r in _rows(lake, "cleaned").items() if black in src)
    assert (row["status"], row["reason"], row["op"]) == ("quarantined", "GATE", "gate.ExpectColumnValuesToBeBetween(brightness)")
    assert row["detail"].startswith("brightness = 0.0 outside [0.02, 0.98]")
    evaluation = _quality("cleaned")
    assert not evaluation.passed and row["sample_id"] in evaluation.metadata["failing_ids"].value
    assert any(r["reason"] == "GATE" for r in lake.quarantine_rows(batch, "cleaned"))
    docs = Path(evaluation.metadata["data_docs"].value.removeprefix("file://"))
    assert docs.is_file() and docs.is_relative_to(tessera_home_of(lake))
    pages = list((docs.parent / "validations" / "cleaned" / batch).rglob("*.html"))
    assert len(pages) == 1 and "brightness" in pages[0].read_text()
    for later in ("unified", "embedded"):
        ds = lake.dataset(later if later != "embedded" else "samples")
        assert ds is None or ds.count_rows("batch = 'a'") == 0  # nothing of the batch went on


def test_a_warn_expectation_never_blocks(gated) -> None:
    batch, black = gated("warn")
    assert materialize(batch, quiet=True)["success"]
    landed = _rows(LakeResource(), "samples")
    assert any(black in src and r["status"] == "landed" for src, r in landed.items())
    assert _quality("cleaned").passed is False  # reported, as a warning


def test_a_review_expectation_fills_the_queue_blocks_nothing_and_an_approval_holds(gated, capsys) -> None:
    batch, black = gated("review")
    assert materialize(batch, quiet=True)["success"]
    lake = LakeResource()
    samples = _rows(lake, "samples")
    assert [r["status"] for src, r in samples.items() if "coffee" in src] == ["landed"]
    assert not any(black in src for src in samples)
    assert main(["review", "list", "--reason", "GATE"]) == 0
    out = capsys.readouterr().out
    assert "cleaned" in out and "brightness = 0.0" in out
    sid = next(r["sample_id"] for src, r in _rows(lake, "cleaned").items() if black in src)
    assert main(["review", "approve", sid, "--who", "ana", "--note", "a night sky, on purpose"]) == 0
    assert materialize(batch, ["cleaned", "unified", "aligned", "augmented", "embedded"], quiet=True)["success"]
    now = next(r for src, r in _rows(lake, "samples").items() if black in src)
    assert now["status"] == "landed"
    assert any(f.startswith("steward.approve:gate.ExpectColumnValuesToBeBetween(brightness):GATE:") for f in now["flags"])
