"""Content shared between batches, through Dagster as a user runs it (I6): the sequence that
once lost data, a holder whose drop loses the file, and a backfill of every batch."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import skimage.data

from tessera.orchestration.cli import ingest, materialize
from tessera.resources.lake import STAGE_TABLES, LakeResource

pytestmark = pytest.mark.slow
PHOTOS = Path(skimage.data.__file__).parent


def _drop(root: Path, own: str) -> Path:
    root.mkdir(parents=True)
    shutil.copyfile(PHOTOS / "rocket.jpg", root / "rocket.jpg")  # shared by both drops, same bytes
    (root / "rocket.txt").write_text("a rocket standing on a launchpad\n")
    shutil.copyfile(PHOTOS / own, root / own)
    return root


def _landed(lake: LakeResource, stage: str) -> dict[str, list[str]]:
    rows = lake.dataset(STAGE_TABLES[stage]).to_table(columns=["sample_id", "batch"], filter="status = 'landed'").to_pylist()
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r["sample_id"], []).append(r["batch"])
    return out


def _accounted(lake: LakeResource, stage: str, batch: str) -> int:
    return lake.dataset(STAGE_TABLES[stage]).count_rows(f"batch = '{batch}'")


def test_shared_content_lands_once_in_any_order_of_runs_and_reruns(tessera_home: Path) -> None:
    a, b = _drop(tessera_home / "drops/a", "chelsea.png"), _drop(tessera_home / "drops/b", "coffee.png")
    ingest(str(a), "a")
    ingest(str(b), "b")
    through = ["raw", "cleaned"]
    assert materialize("a", through, quiet=True)["success"]
    assert materialize("b", through, quiet=True)["success"]
    assert materialize("a", ["cleaned"], quiet=True, force=True)["success"]  # the backfill that once lost the shared samples
    lake = LakeResource()
    landed = _landed(lake, "cleaned")
    assert len(landed) == 3 and all(len(bs) == 1 for bs in landed.values())  # shared pair + one own image each
    shared = [sid for sid, bs in landed.items() if bs == ["a"]]
    assert len(shared) == 2  # a holds the shared caption pair and its own image
    dup = lake.quarantine_rows("b", "raw")
    assert [(r["reason"], r["detail"]) for r in dup] == [("DUPLICATE", "same content is held by batch 'a'")]

    for batch in ("b", "a"):  # a backfill of every batch, in the other order: nothing moves
        assert materialize(batch, through, quiet=True, force=True)["success"]
    assert _landed(lake, "cleaned") == landed
    assert _accounted(lake, "raw", "b") == 2 and _accounted(lake, "cleaned", "b") == 1

    (a / "rocket.jpg").unlink()  # the holder's drop loses the shared picture: b holds the pair next
    (a / "rocket.txt").unlink()
    result = materialize("a", through, quiet=True)
    assert result["success"] and set(result["handoffs"]) == {"b"}
    assert materialize("b", ["cleaned"], quiet=True)["success"]  # what `tessera materialize` runs next by itself
    moved = _landed(lake, "cleaned")
    assert all(len(bs) == 1 for bs in moved.values()) and sorted(bs[0] for bs in moved.values()) == ["a", "b", "b"]


def test_deleting_the_holding_batch_hands_its_content_on(tessera_home: Path) -> None:
    from tessera.orchestration.cli import delete_batch

    a, b = _drop(tessera_home / "drops/a", "chelsea.png"), _drop(tessera_home / "drops/b", "coffee.png")
    for batch, drop in (("a", a), ("b", b)):
        ingest(str(drop), batch)
        assert materialize(batch, ["raw", "cleaned"], quiet=True)["success"]
    out = delete_batch("a")
    assert out["handed_to"] == {"b": 1} and [r["success"] for r in out["reruns"]] == [True]  # the caption pair: one sample
    lake = LakeResource()
    assert _landed(lake, "cleaned") and all(bs == ["b"] for bs in _landed(lake, "cleaned").values())
    assert len(_landed(lake, "cleaned")) == 2  # b's own image and the pair a held
    assert lake.quarantine_rows("b") == [] and _accounted(lake, "raw", "a") == 0 and _accounted(lake, "cleaned", "a") == 0
    assert "a" not in {x["batch"] for x in lake.batches()}


def _copy_drop(root: Path, own: str, quality: int) -> Path:
    """The rocket photo re-encoded at `quality` under a caption of this drop's own, and a picture of its own."""
    from PIL import Image

    root.mkdir(parents=True)
    Image.open(PHOTOS / "rocket.jpg").save(root / "launch.jpg", quality=quality)
    (root / "launch.txt").write_text(f"a rocket on its pad (q{quality})\n")
    shutil.copyfile(PHOTOS / own, root / own)
    return root


def test_near_copies_in_later_batches_are_held_once_and_pass_on_when_the_holder_goes(tessera_home: Path) -> None:
    """A re-encoded copy of last week's photo, under another caption, in this week's drop: DUPLICATE
    naming last week's batch at unified (never in `samples` twice); deleting last week's batch
    hands the picture to this week's, which is re-run and lands it."""
    from tessera.orchestration.cli import delete_batch

    a, b = _copy_drop(tessera_home / "drops/a", "chelsea.png", 95), _copy_drop(tessera_home / "drops/b", "coffee.png", 65)
    ingest(str(a), "a")
    ingest(str(b), "b")
    through = ["raw", "cleaned", "unified"]
    assert materialize("a", through, quiet=True)["success"]
    assert materialize("b", through, quiet=True)["success"]
    lake = LakeResource()
    (dup,) = lake.quarantine_rows("b", "unified")
    assert (dup["reason"], dup["op"]) == ("DUPLICATE", "image.near_dup") and "held by batch 'a'" in dup["detail"]
    # the steward sees the cluster across batches: the holder's picture kept in 'a', the copy in 'b'
    from tessera.steward.queue import story
    from tessera.steward.sample import cluster, keep_targets

    found = cluster(lake, dup["sample_id"], story(lake, dup["sample_id"])["stages"])
    assert [(m["batch"], m["kept"]) for m in found["members"]] == [("a", True), ("b", False)]
    assert [(t["action"], t["batch"]) for t in keep_targets(lake, found, dup["sample_id"])] == [("approve", "b"), ("reject", "a")]
    assert materialize("a", through, quiet=True, force=True)["success"]  # a backfill of the holder: nothing moves
    assert [r["detail"] for r in lake.quarantine_rows("b", "unified")] == [dup["detail"]]
    assert sorted(bs[0] for bs in _landed(lake, "unified").values()) == ["a", "a", "b"]

    out = delete_batch("a")
    assert out["handed_to"] == {"b": 1} and [r["success"] for r in out["reruns"]] == [True]
    assert lake.quarantine_rows("b", "unified") == []
    assert sorted(bs[0] for bs in _landed(lake, "unified").values()) == ["b", "b"]
