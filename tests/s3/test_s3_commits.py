"""Are Lance commits safe on this S3 server? Lance commits version N+1 by writing its manifest
with a conditional put (`If-None-Match: *`, object_store `PutMode::Create`); a store that
honours it refuses the second writer (412), which Lance turns into a rebase or a retryable
conflict. A store that ignores it lets both writers "win" version N+1, and the later manifest
silently replaces the earlier one: a lost commit, and its rows with it.
"""

from __future__ import annotations

import multiprocessing as mp
import secrets
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import lance
import pyarrow as pa
import pytest
from lance.fragment import write_fragments

from tessera.resources.conflicts import is_retryable_conflict
from tessera.resources.home import s3_storage_options

if TYPE_CHECKING:
    from tests.servers import S3Server

pytestmark = pytest.mark.s3

ROUNDS = 4
WRITERS = 2


def test_the_server_refuses_unsigned_and_wrongly_signed_requests(s3_server: S3Server) -> None:
    try:
        urllib.request.urlopen(f"{s3_server.endpoint}/{s3_server.bucket}/", timeout=10)
        status = 200
    except urllib.error.HTTPError as exc:
        status = exc.code
    assert status == 403
    assert s3_server.put("auth/x", b"x", secret_key="not-the-secret") == 403
    assert s3_server.put("auth/x", b"x") == 200


def test_a_conditional_put_lets_exactly_one_of_racing_writers_create_an_object(s3_server: S3Server) -> None:
    key = f"conditional/{secrets.token_hex(4)}"
    assert s3_server.put(key, b"first", {"If-None-Match": "*"}) == 200
    assert s3_server.put(key, b"second", {"If-None-Match": "*"}) == 412
    assert s3_server.get(key) == (200, b"first")
    with ThreadPoolExecutor(4) as pool:  # racing puts on one key queue on a server-side lock (~1 s steps)
        for r in range(3):
            key = f"conditional/race-{r}-{secrets.token_hex(4)}"
            statuses = list(pool.map(lambda i, k=key: s3_server.put(k, f"writer {i}".encode(), {"If-None-Match": "*"}), range(4)))
            assert sorted(statuses) == [200] + [412] * 3, f"{s3_server.version}: {statuses}"
            assert s3_server.get(key)[1] == f"writer {statuses.index(200)}".encode()


def _writer(uris: list[str], mode: str, who: int, barrier: Any, results: Any) -> None:
    """For each dataset: prepare a commit at version 1, wait for the other writers, commit once (no retry)."""
    opts = s3_storage_options()
    for uri in uris:
        new = write_fragments(pa.table({"k": [f"w{who}"]}), uri, storage_options=opts)
        if mode == "append":
            op = lance.LanceOperation.Append(new)
        else:  # replace the token row: every writer deletes the same row, so at most one may commit over version 1
            ds = lance.dataset(uri, version=1, storage_options=opts)
            assert ds.get_fragment(0).delete("k = 'token'") is None
            op = lance.LanceOperation.Update(removed_fragment_ids=[0], new_fragments=new)
        barrier.wait()
        try:
            version = lance.LanceDataset.commit(uri, op, read_version=1, storage_options=opts).version
            results.put((uri, who, "committed", version))
        except Exception as exc:
            results.put((uri, who, "retryable" if is_retryable_conflict(exc) else "error", f"{type(exc).__name__}: {exc}"[:300]))


def _race(s3_lake: str, mode: str) -> tuple[dict[str, list[tuple]], dict[str, lance.LanceDataset]]:
    opts = s3_storage_options()
    uris = [f"{s3_lake}/race-{mode}-{r}.lance" for r in range(ROUNDS)]
    for uri in uris:
        assert lance.write_dataset(pa.table({"k": ["token"]}), uri, storage_options=opts).version == 1
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(WRITERS), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(uris, mode, w, barrier, results)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    outcomes: dict[str, list[tuple]] = {u: [] for u in uris}
    for _ in range(ROUNDS * WRITERS):
        uri, *rest = results.get(timeout=120)
        outcomes[uri].append(tuple(rest))
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    return outcomes, {u: lance.dataset(u, storage_options=opts) for u in uris}


def test_two_processes_replacing_one_row_at_one_version_exactly_one_commits(s3_lake: str) -> None:
    """The ledger's token: of two commits that delete the same row over version 1, one lands as
    version 2 and the other gets a retryable conflict; version 2 is the winner's, whole."""
    outcomes, datasets = _race(s3_lake, "update")
    for uri, results in outcomes.items():
        won = [r for r in results if r[1] == "committed"]
        lost = [r for r in results if r[1] != "committed"]
        assert len(won) == 1 and won[0][2] == 2, results
        assert [r[1] for r in lost] == ["retryable"] * (WRITERS - 1), results
        ds = datasets[uri]
        assert [v["version"] for v in ds.versions()] == [1, 2]
        assert ds.to_table()["k"].to_pylist() == [f"w{won[0][0]}"]


def test_two_processes_appending_at_one_version_both_land_in_distinct_versions(s3_lake: str) -> None:
    """Appends are compatible: the loser of the put for version 2 rebases and commits version 3."""
    outcomes, datasets = _race(s3_lake, "append")
    for uri, results in outcomes.items():
        assert sorted(r[1:] for r in results) == [("committed", v) for v in range(2, 2 + WRITERS)], results
        ds = datasets[uri]
        assert [v["version"] for v in ds.versions()] == list(range(1, 2 + WRITERS))
        assert sorted(ds.to_table()["k"].to_pylist()) == ["token", *(f"w{w}" for w in range(WRITERS))]
