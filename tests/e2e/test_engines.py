"""One batch through the `local` and the `ray` engine gives the same table; a Ray worker
killed mid-batch is retried and nothing is lost. A real local Ray (2 CPUs, loopback)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import skimage.data
import yaml
from dagster import DagsterInstance

from tessera.core.synth import encoded_audio, tone, video_bytes
from tessera.orchestration.definitions import build_definitions
from tessera.resources.engine import EngineResource
from tessera.resources.lake import STAGE_TABLES, LakeResource
from tessera.resources.params import DEFAULT_PARAMS

pytestmark = pytest.mark.slow
THROUGH = ["raw", "cleaned", "unified", "aligned", "augmented"]
PHOTOS = Path(skimage.data.__file__).parent


def _drop(root: Path) -> Path:
    root.mkdir(parents=True)
    for name in ("rocket.jpg", "chelsea.png", "coffee.png", "astronaut.png"):
        shutil.copyfile(PHOTOS / name, root / name)
        (root / name).with_suffix(".txt").write_text(f"a photo called {name.split('.')[0]} on the left\n")
    (root / "tone.flac").write_bytes(encoded_audio(tone(1.5, 330, 22_050), 22_050, "flac"))
    (root / "clip.mp4").write_bytes(video_bytes(2.0, cues=[(0.2, 0.9, "hello")]))
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    return root


def _params(tmp: Path) -> Path:
    params = yaml.safe_load(DEFAULT_PARAMS.read_text())
    params["execution"]["chunk_rows"] = 2  # several chunks per stage, so several tasks to spread and kill
    path = tmp / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def _run(home: Path, drop: Path, params: Path, engine: EngineResource) -> dict[str, list[tuple[str, str, str | None]]]:
    os.environ["TESSERA_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    (home / "dagster").mkdir(parents=True)
    lake = LakeResource()
    lake.register_batch("b", str(drop), None)
    instance = DagsterInstance.get()
    instance.add_dynamic_partitions("batch", ["b"])
    from dagster import AssetKey

    defs = build_definitions(params, resources={"engine": engine})
    result = defs.resolve_job_def("pipeline").execute_in_process(
        partition_key="b", instance=instance, asset_selection=[AssetKey(s) for s in THROUGH], raise_on_error=False
    )
    assert result.success
    out = {}
    for stage in THROUGH:
        rows = lake.dataset(STAGE_TABLES[stage]).to_table(columns=["sample_id", "status", "reason"], filter="batch = 'b'").to_pylist()
        out[stage] = sorted((r["sample_id"], r["status"], r["reason"]) for r in rows)
    return out


def _kill_one_ray_task_worker(stop: threading.Event, killed: list[int]) -> None:
    """Kill -9 the first Ray worker seen running a task (its process title is `ray::call`)."""
    while not stop.is_set() and not killed:
        ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
        for line in ps.splitlines():
            pid, _, args = line.strip().partition(" ")
            if args.startswith("ray::call"):
                os.kill(int(pid), signal.SIGKILL)
                killed.append(int(pid))
                return
        time.sleep(0.05)


def test_local_and_ray_give_the_same_table_even_when_a_ray_worker_dies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ray = pytest.importorskip("ray")
    monkeypatch.setenv("TESSERA_HOME", str(tmp_path))
    drop, params = _drop(tmp_path / "drop"), _params(tmp_path)
    local = _run(tmp_path / "local", drop, params, EngineResource(engine="local", workers=2))

    engine = EngineResource(engine="ray", ray_address="local", workers=2)
    engine.start()
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=_kill_one_ray_task_worker, args=(stop, killed), daemon=True)
    killer.start()
    try:
        on_ray = _run(tmp_path / "ray", drop, params, engine)
    finally:
        stop.set()
        killer.join()
        ray.shutdown()
    assert killed, "no Ray task worker was seen running, so none was killed"
    assert on_ray == local  # same ids, verdicts and row counts at every stage
    assert ("quarantined", "TRUNCATED") in {(st, r) for _, st, r in local["cleaned"]}  # broken.jpg ends inside its first segment, on both engines
    assert len(local["augmented"]) > len(local["cleaned"])  # variants were made
