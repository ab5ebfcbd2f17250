"""A sample's story and why a file is missing, on the demo drop through Dagster: every kind of
edge the ledger holds (a window, a clip, a near-duplicate cluster, a DUPLICATE across batches,
a steward's relabel, a variant), and why-missing for each file broken on purpose."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
import skimage.data
import yaml
from PIL import Image

from tessera.orchestration.cli import ingest, main, materialize
from tessera.orchestration.demo import EXPECTED_QUARANTINE, build_demo_corpus
from tessera.resources import decisions
from tessera.resources.lake import LakeResource
from tessera.resources.lineage import story, why_missing
from tessera.resources.params import load_params

pytestmark = pytest.mark.slow
PHOTOS = Path(skimage.data.__file__).parent


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("lineage")
    mp = pytest.MonkeyPatch()
    mp.setenv("TESSERA_HOME", str(home))
    mp.setenv("DAGSTER_HOME", str(home / "dagster"))
    (home / "dagster").mkdir()
    (home / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    params = load_params()  # (a copy) media past 2 s are cut: the demo's 3 s recordings into windows, its 3 s videos into clips
    for spec in params["cleaned"]["ops"]:
        if isinstance(spec, dict) and next(iter(spec)) in ("audio.decode", "video.decode"):
            next(iter(spec.values())).update(window_over_s=2.0, window_s=1.5)
    (home / "params.yaml").write_text(yaml.safe_dump(params))
    mp.setenv("TESSERA_PARAMS", str(home / "params.yaml"))
    drop = build_demo_corpus(home / "drops/demo")
    buf = io.BytesIO()
    Image.open(drop / "astronaut.png").convert("RGB").save(buf, "JPEG", quality=70)  # a near-copy under another caption
    (drop / "astronaut_small.jpg").write_bytes(buf.getvalue())
    (drop / "astronaut_small.txt").write_text("NASA portrait, re-saved\n")
    week2 = home / "drops/week2"
    week2.mkdir(parents=True)
    for name in ("rocket.jpg", "rocket.txt"):  # the same files again next week: held by the demo batch
        shutil.copyfile(drop / name, week2 / name)
    for batch, path in (("demo", drop), ("week2", week2)):
        ingest(str(path), batch)
        assert materialize(batch, quiet=True)["success"]
    yield LakeResource()
    mp.undo()


def _sid(lake: LakeResource, source: str, stage_table: str = "raw") -> str:
    rows = lake.dataset(stage_table).to_table(columns=["sample_id", "source"], filter=f"source LIKE '%{source}%'").to_pylist()
    return next(r["sample_id"] for r in rows if source in json.loads(r["source"]))


def _edges(s: dict, stage: str) -> list[tuple[str, str]]:
    return [(e["op"], e["kind"]) for st in s["stages"] if st["stage"] == stage for e in st["edges"]]


def test_a_window_of_a_long_recording_and_a_clip_of_a_long_video_tell_their_parent_s_story_first(lake: LakeResource) -> None:
    chirps = story(lake, _sid(lake, "chirps.flac"))
    (split,) = [e for st in chirps["stages"] for e in st["edges"] if e["kind"] == "split"]
    window = story(lake, split["related"][0])
    assert window["parent"]["sample_id"] == chirps["sample_id"]
    assert ("audio.decode", "window_of") in _edges(window, "cleaned") and window["in_samples"]
    gradient = story(lake, _sid(lake, "gradient.mp4"))
    (cut,) = [e for st in gradient["stages"] for e in st["edges"] if e["kind"] == "split"]
    clip = story(lake, cut["related"][0])
    assert clip["parent"]["sample_id"] == gradient["sample_id"] and ("video.decode", "window_of") in _edges(clip, "cleaned")
    assert main(["lineage", clip["sample_id"][:16]]) == 0


def test_a_near_duplicate_cluster_and_a_copy_another_batch_holds(lake: LakeResource) -> None:
    kept, copy = _sid(lake, "astronaut.png"), _sid(lake, "astronaut_small.jpg")
    pair = sorted([kept, copy])  # the first by sample id is kept
    rep, dup = story(lake, pair[0]), story(lake, pair[1])
    assert ("image.near_dup", "merged") in _edges(rep, "unified") and rep["in_samples"]
    edge = next(e for st in dup["stages"] for e in st["edges"] if e["kind"] == "duplicate_of")
    assert edge["related"] == [pair[0]] and not dup["in_samples"]
    rocket = story(lake, _sid(lake, "rocket.jpg"))
    held = [st for st in rocket["stages"] if st["stage"] == "raw" and st["batch"] == "week2"]
    assert held and held[0]["edges"][-1]["kind"] == "duplicate_of" and "held by batch 'demo'" in held[0]["edges"][-1]["detail"]


def test_variants_and_a_steward_s_relabel(lake: LakeResource) -> None:
    horse = _sid(lake, "horse.png")
    s = story(lake, horse)
    made = next(e for st in s["stages"] for e in st["edges"] if e["kind"] == "augmented")
    assert story(lake, made["related"][0])["parent"]["sample_id"] == horse
    decisions.record(lake, [{"sample_id": horse, "batch": "demo", "stage": "aligned", "action": "relabel", "text": "a horse, drawn"}], who="ana", client="test")
    assert materialize("demo", ["aligned", "augmented", "embedded"], quiet=True)["success"]
    s = story(lake, horse)
    assert ("steward.decision", "steward") in _edges(s, "aligned") and s["decisions"][-1]["action"] == "relabel"


@pytest.mark.parametrize("path", sorted(EXPECTED_QUARANTINE))
def test_why_missing_explains_every_broken_demo_file(lake: LakeResource, path: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = why_missing(lake, path, "demo")
    (s,) = out["samples"]
    assert EXPECTED_QUARANTINE[path] in s["why"] and s["sources"] == [path] or path in s["sources"]
    if EXPECTED_QUARANTINE[path] == "DUPLICATE":  # an exact copy: its content is there, from the other file
        assert s["why"].startswith("its content is there") and s["in_samples"]
    else:
        assert not s["in_samples"] and "set aside at" in s["why"]
    assert main(["why-missing", path, "--batch", "demo"]) == 0 and EXPECTED_QUARANTINE[path] in capsys.readouterr().out
    assert why_missing(lake, "rocket.jpg")["samples"][0]["why"].startswith("it is there")
