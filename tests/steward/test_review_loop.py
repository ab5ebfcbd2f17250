"""The steward's loop through Dagster as a user runs it: the queue lists what a stage set
aside; approve, relabel and reject from `tessera review`; the decisions sensor re-runs the
batch from the stage decided; approved samples land with the override on their row, the new
caption reaches `samples`, rejected content leaves and is refused when ingested again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from dagster import SensorResult, SkipReason, build_sensor_context
from PIL import Image

from tessera.orchestration.cli import ingest, main, materialize
from tessera.orchestration.instance import get_instance
from tessera.orchestration.sensors import steward_decisions
from tessera.resources.lake import LakeResource

pytestmark = pytest.mark.slow
PHOTOS = Path(skimage.data.__file__).parent


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main([*argv, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def _row(lake: LakeResource, table: str, sid: str, batch: str) -> dict:
    (row,) = lake.dataset(table).to_table(filter=f"sample_id = '{sid}' AND batch = '{batch}'").to_pylist()
    return row


def _sense(cursor: str | None):
    return steward_decisions(build_sensor_context(instance=get_instance(), cursor=cursor, resources={"lake": LakeResource()}))


def _run(request) -> None:
    stages = [k.path[-1] for k in request.asset_selection]
    assert materialize(request.partition_key, stages, quiet=True)["success"]


def test_decisions_flow_back_through_the_pipeline(tessera_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    drop = tessera_home / "drops/a"
    drop.mkdir(parents=True)
    shutil.copyfile(PHOTOS / "rocket.jpg", drop / "rocket.jpg")
    (drop / "rocket.txt").write_text("a rocket\n")
    Image.fromarray(np.full((20, 20, 3), 200, np.uint8)).save(drop / "icon.png")  # under image.min_side: LOW_QUALITY at cleaned
    ingest(str(drop), "a")
    assert materialize("a", quiet=True)["success"]
    assert isinstance(_sense(None), SkipReason)

    queue = _cli(capsys, "review", "list", "--batch", "a")
    (entry,) = queue["entries"]
    assert (entry["stage"], entry["reason"], entry["op"], queue["total"]) == ("cleaned", "LOW_QUALITY", "image.min_side", 1)
    icon = entry["sample_id"]
    lake = LakeResource()
    (rocket,) = [r["sample_id"] for r in lake.dataset("samples").to_table(filter="batch = 'a' AND status = 'landed' AND parent_id IS NULL").to_pylist()]

    _cli(capsys, "review", "approve", icon[:12], "--note", "an icon, wanted", "--who", "ana")
    _cli(capsys, "review", "relabel", rocket[:12], "--text", "a rocket on its launchpad at dawn", "--who", "ana")
    assert _cli(capsys, "review", "list", "--batch", "a")["total"] == 0  # decided: off the open queue
    sensed = _sense(None)
    assert isinstance(sensed, SensorResult)
    (request,) = sensed.run_requests
    assert request.partition_key == "a"
    assert [k.path[-1] for k in request.asset_selection] == ["cleaned", "unified", "aligned", "augmented", "embedded"]
    assert isinstance(_sense(sensed.cursor), SkipReason)  # the cursor moved: no second run for the same decisions
    _run(request)

    landed_icon = _row(lake, "samples", icon, "a")
    assert landed_icon["status"] == "landed"
    assert any(f.startswith("steward.approve:image.min_side:LOW_QUALITY:") for f in landed_icon["flags"])
    assert _row(lake, "samples", rocket, "a")["text"] == "a rocket on its launchpad at dawn"

    _cli(capsys, "review", "reject", rocket[:12], "--note", "trademark on the hull", "--who", "ben")
    (again,) = _sense(sensed.cursor).run_requests
    assert [k.path[-1] for k in again.asset_selection] == ["embedded"]
    _run(again)
    gone = _row(lake, "samples", rocket, "a")
    assert (gone["status"], gone["reason"]) == ("quarantined", "REJECTED")
    assert gone["detail"].startswith("rejected by ben: trademark on the hull (decision ")

    redrop = tessera_home / "drops/b"
    shutil.copytree(drop, redrop)
    ingest(str(redrop), "b")
    assert materialize("b", ["raw"], quiet=True)["success"]
    refused = [r for r in lake.quarantine_rows("b", "raw") if r["reason"] == "REJECTED"]
    assert len(refused) == 1 and "trademark on the hull" in refused[0]["detail"]
    shown = _cli(capsys, "review", "show", rocket[:12])
    assert [d["action"] for d in shown["decisions"]] == ["relabel", "reject"]


def test_approving_what_raw_set_aside_is_refused_in_one_line(tessera_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    drop = tessera_home / "drops/c"
    drop.mkdir(parents=True)
    (drop / "noise.png").write_bytes(bytes(range(256)) * 4)  # no image at all: raw sets it aside
    ingest(str(drop), "c")
    assert materialize("c", ["raw"], quiet=True)["success"]
    (entry,) = _cli(capsys, "review", "list", "--stage", "raw")["entries"]
    assert main(["review", "approve", entry["sample_id"], "--who", "ana"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("tessera review approve: sample ") and "set aside at raw" in err and "\n" not in err
