"""The execution engine: the same results from the local pool and from a real local Ray, bounded
submission over a lazy task stream, and a crashing task costing only itself."""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_helpers import FragileModel, Squarer, kill_worker_once, pid_of, raise_on_2, segfault_on_3, square, variable

from tessera.resources.engine import EngineResource, TaskCrashed

REPO = Path(__file__).resolve().parents[2]
N_LAZY = 10_000


@pytest.fixture(scope="session")
def ray_engine() -> Iterator[EngineResource]:
    """One local Ray (2 CPUs, loopback) for the whole session: starting one takes seconds."""
    ray = pytest.importorskip("ray")
    engine = EngineResource(engine="ray", ray_address="local", workers=2)
    engine.start()
    yield engine
    ray.shutdown()


@pytest.fixture
def local_engine() -> EngineResource:
    return EngineResource(engine="local", workers=2)


def attempts(marker_dir: Path, index: int) -> int:
    return len((marker_dir / f"{index}.attempts").read_text().splitlines())


def exactly_once(results: list[tuple[int, object]], n: int) -> dict[int, object]:
    assert sorted(i for i, _ in results) == list(range(n)), "every index once, none twice"
    return dict(results)


def bounded_run(engine: EngineResource, max_in_flight: int) -> tuple[int, int]:
    """(results, the most tasks ever pulled from the generator and not yet handed back).

    A task starts after it is pulled and finishes before its result is handed back, so this is an
    upper bound on tasks started but not finished, measured without touching the workers."""
    pulled = 0

    def tasks() -> Iterator[int]:
        nonlocal pulled
        for i in range(N_LAZY):
            pulled += 1
            yield i

    received = worst = 0
    for index, result in engine.map(square, tasks(), max_in_flight=max_in_flight):
        assert result == index * index
        worst = max(worst, pulled - received)  # counting the one being handed back now
        received += 1
    return received, worst


def test_an_unknown_engine_is_one_clear_line() -> None:
    with pytest.raises(
        ValueError, match=r"^unknown execution engine 'spark' \(from EngineResource.engine\); use one of: local, ray$"
    ):
        list(EngineResource(engine="spark").map(square, [1]))


def test_engine_settings_come_from_config_then_environment_then_params(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("execution: {engine: ray, decode_workers: 3}\n")
    monkeypatch.setenv("TESSERA_PARAMS", str(params))
    monkeypatch.delenv("TESSERA_ENGINE", raising=False)
    monkeypatch.delenv("TESSERA_RAY_ADDRESS", raising=False)
    assert (EngineResource().resolved_engine(), EngineResource().resolved_workers()) == ("ray", 3)
    assert EngineResource().resolved_ray_address() == ("local", "default")
    monkeypatch.setenv("TESSERA_ENGINE", "local")
    monkeypatch.setenv("TESSERA_RAY_ADDRESS", "ray://head:10001")
    assert EngineResource().resolved_engine() == "local"
    assert EngineResource().resolved_ray_address() == ("ray://head:10001", "TESSERA_RAY_ADDRESS")
    assert EngineResource(engine="ray", workers=5).resolved_engine() == "ray"
    assert EngineResource(workers=5).resolved_workers() == 5
    params.write_text("execution: {}\n")
    assert EngineResource().resolved_workers() == len(os.sched_getaffinity(0))


def test_local_pool_runs_a_lazy_stream_with_bounded_submission(local_engine: EngineResource) -> None:
    received, worst = bounded_run(local_engine, max_in_flight=16)
    assert received == N_LAZY
    assert worst == 16  # the bound is reached (work runs in parallel) and never exceeded


def test_local_model_loads_once_in_process(local_engine: EngineResource) -> None:
    import engine_helpers

    before = engine_helpers.INITS
    results = exactly_once(list(local_engine.map(Squarer, range(20), kind="model")), 20)
    assert engine_helpers.INITS == before + 1
    assert all(pid == os.getpid() and value == i * i for i, (pid, _, value) in results.items())


def test_a_task_that_raises_is_a_bug_and_propagates(local_engine: EngineResource) -> None:
    with pytest.raises(ValueError, match="task 2 is a bug"):
        list(local_engine.map(raise_on_2, range(6)))


def test_one_worker_runs_in_process() -> None:
    results = exactly_once(list(EngineResource(engine="local", workers=1).map(pid_of, range(5))), 5)
    assert set(results.values()) == {os.getpid()}


def test_workers_see_the_environment_as_it_is_when_the_map_starts(local_engine: EngineResource, monkeypatch: pytest.MonkeyPatch) -> None:
    """A forkserver started earlier in a long-lived process (a test session, a warm host) hands its
    children its own environment; a lake named since (TESSERA_LAKE_URI, AWS_*) must reach them."""
    assert [r for _, r in local_engine.map(square, iter(range(4)))]  # the forkserver is up, without the variable
    monkeypatch.setenv("TESSERA_ENGINE_TEST_VARIABLE", "named later")
    assert {r for _, r in local_engine.map(variable, iter(["TESSERA_ENGINE_TEST_VARIABLE"] * 4))} == {"named later"}


def test_stopping_early_shuts_the_local_pool_down(local_engine: EngineResource) -> None:
    results = local_engine.map(square, iter(range(N_LAZY)), max_in_flight=4)
    assert [next(results) for _ in range(3)]
    results.close()  # the consumer stops: the pool's workers must not outlive the call
    assert multiprocessing.active_children() == []


@pytest.mark.fault
def test_local_segfault_costs_only_its_task(local_engine: EngineResource) -> None:
    results = exactly_once(list(local_engine.map(segfault_on_3, range(12))), 12)
    crashed = {i: r for i, r in results.items() if isinstance(r, TaskCrashed)}
    assert list(crashed) == [3]
    assert crashed[3].index == 3 and "SIGSEGV" in crashed[3].detail
    assert all(results[i] == i * i for i in results if i != 3)


@pytest.mark.slow
def test_local_and_ray_give_the_same_results(local_engine: EngineResource, ray_engine: EngineResource) -> None:
    local = set(local_engine.map(square, range(50)))
    on_ray = set(ray_engine.map(square, range(50)))
    assert local == on_ray == {(i, i * i) for i in range(50)}


@pytest.mark.slow
def test_ray_runs_a_lazy_stream_with_bounded_submission(ray_engine: EngineResource) -> None:
    received, worst = bounded_run(ray_engine, max_in_flight=16)
    assert received == N_LAZY
    assert worst == 16


@pytest.mark.slow
@pytest.mark.fault
def test_ray_retries_a_task_whose_worker_died(ray_engine: EngineResource, tmp_path: Path) -> None:
    tasks = [(str(tmp_path), i, "once" if i in (4, 9) else "") for i in range(16)]
    results = exactly_once(list(ray_engine.map(kill_worker_once, tasks)), 16)
    assert results == {i: i * i for i in range(16)}
    assert attempts(tmp_path, 4) == attempts(tmp_path, 9) == 2  # died once, then ran again


@pytest.mark.slow
@pytest.mark.fault
def test_ray_reports_a_task_that_always_kills_its_worker(ray_engine: EngineResource, tmp_path: Path) -> None:
    engine = EngineResource(engine="ray", ray_address="local", workers=2, max_retries=1)  # reuses the session's Ray
    tasks = [(str(tmp_path), i, "always" if i == 2 else "") for i in range(6)]
    results = exactly_once(list(engine.map(kill_worker_once, tasks)), 6)
    assert isinstance(results[2], TaskCrashed) and results[2].index == 2
    assert attempts(tmp_path, 2) == 2  # max_retries + 1 runs, then reported
    assert {i: r for i, r in results.items() if i != 2} == {i: i * i for i in range(6) if i != 2}


@pytest.mark.slow
def test_a_task_that_raises_on_ray_propagates(ray_engine: EngineResource) -> None:
    with pytest.raises(ValueError, match="task 2 is a bug"):
        list(ray_engine.map(raise_on_2, range(6)))


@pytest.mark.slow
def test_ray_model_loads_once_per_actor(ray_engine: EngineResource) -> None:
    results = exactly_once(list(ray_engine.map(Squarer, range(40), kind="model")), 40)
    assert all(value == i * i for i, (_, _, value) in results.items())
    assert {inits for _, inits, _ in results.values()} == {1}  # every actor process built one model
    assert 1 <= len({pid for pid, _, _ in results.values()}) <= 2  # on at most `workers` actors
    assert all(pid != os.getpid() for pid, _, _ in results.values())


@pytest.mark.slow
@pytest.mark.fault
def test_ray_model_task_whose_actor_died_is_rerun_on_another(ray_engine: EngineResource, tmp_path: Path) -> None:
    engine = EngineResource(engine="ray", ray_address="local", workers=2, max_retries=1)  # reuses the session's Ray
    modes = {3: "once", 7: "always"}
    tasks = [(str(tmp_path), i, modes.get(i, "")) for i in range(12)]
    results = exactly_once(list(engine.map(FragileModel, tasks, kind="model")), 12)
    assert isinstance(results[7], TaskCrashed) and "(1 times alone)" in results[7].detail
    assert attempts(tmp_path, 3) == 2  # died once, ran again alone
    # 7 is reported after dying alone; at most max_retries + 1 runs (one fewer when it was queued
    # behind 3 and failed with that actor before it ran)
    assert 1 <= attempts(tmp_path, 7) <= 2
    assert {i: r for i, r in results.items() if i != 7} == {i: i * i for i in range(12) if i != 7}


@pytest.mark.slow
def test_local_ray_listens_on_loopback_only(ray_engine: EngineResource) -> None:
    import ray

    assert {node["NodeManagerAddress"] for node in ray.nodes()} == {"127.0.0.1"}
    assert ray.get_runtime_context().gcs_address.startswith("127.0.0.1:")


def test_a_malformed_ray_address_is_one_clear_line() -> None:
    engine = EngineResource(engine="ray", ray_address="10.0.0.5:6379")
    with pytest.raises(
        ValueError,
        match=r"^Ray address '10.0.0.5:6379' \(from EngineResource.ray_address\) is not one of: local, auto, ray://host:port$",
    ):
        list(engine.map(square, [1]))


@pytest.mark.slow
def test_an_unreachable_ray_is_one_clear_line(tmp_path: Path) -> None:
    """A fresh process (this one already runs Ray) pointed at a port where nothing listens.
    Ray's client gives up after about 30 s."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free once closed: nothing listens there
    code = (
        "from engine_helpers import square\n"
        "from tessera.resources.engine import EngineResource\n"
        "list(EngineResource(engine='ray', workers=1).map(square, [1]))\n"
    )
    env = {
        **os.environ,
        "TESSERA_RAY_ADDRESS": f"ray://127.0.0.1:{port}",
        "PYTHONPATH": f"{REPO}{os.pathsep}{Path(__file__).parent}",
    }
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"ConnectionError: cannot reach Ray at 'ray://127.0.0.1:{port}' (from TESSERA_RAY_ADDRESS): ")
    assert last.endswith("start the cluster or fix the address, or set execution.engine: local")
