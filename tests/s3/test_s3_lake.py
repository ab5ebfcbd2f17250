"""The lake on `TESSERA_LAKE_URI=s3://…` (a real S3 server): concurrent batches neither lose nor
duplicate rows, shared content lands once, blobs come back as streams."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from typing import Any

import pytest

from tessera.core.records import Sample, compute_sample_id, sha256_hex
from tessera.core.schema import samples_to_arrow, stage_schema
from tessera.resources.lake import LakeResource
from tests.resources.test_ledger import _commit_in_child, _holders, _verdicts

pytestmark = pytest.mark.s3

BARRIER_TIMEOUT_S = 120


def _s3_lake(uri: str, *batches: str) -> LakeResource:
    lake = LakeResource()
    assert lake.resolved_uri() == uri and lake.storage_options()["aws_endpoint"].startswith("http://127.0.0.1:")
    for b in batches:
        lake.register_batch(b, f"{uri}/landing/{b}", None)
        time.sleep(0.01)  # registration order decides who holds next
    return lake


def _raw_writer(uri: str, batch: str, barrier: Any) -> None:
    """test_ledger's child, started in step with the others (process start-up takes seconds and
    varies; without the barrier the commits might not overlap at all)."""
    barrier.wait()
    _commit_in_child(uri, batch, 20)


@pytest.mark.slow
def test_concurrent_batches_sharing_content_land_it_exactly_once_on_s3(s3_lake: str) -> None:
    """tests/resources/test_ledger.py's four racing raw commits, on S3: the token row makes Lance
    (the server's conditional put) let one raw commit through per version; the others decide again."""
    batches = ["p", "q", "r", "s"]
    lake = _s3_lake(s3_lake, *batches)
    lake.ensure("raw", stage_schema())
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(len(batches), timeout=BARRIER_TIMEOUT_S)
    procs = [ctx.Process(target=_raw_writer, args=(s3_lake, b, barrier)) for b in batches]
    for p in procs:
        p.start()
    for p in procs:
        p.join(180)
        assert p.exitcode == 0
    holders = _holders(lake)
    shared = [compute_sample_id({"text": f"shared {i}".encode()}) for i in range(20)]
    assert all(len(holders[sid]) == 1 for sid in shared)  # landed exactly once across batches
    own = [compute_sample_id({"text": f"{b} own {i}".encode()}) for b in batches for i in range(20)]
    assert all(holders[sid] == [sid_batch] for sid, sid_batch in zip(own, [b for b in batches for _ in range(20)], strict=True))
    for b in batches:  # and accounted for in every batch: landed there, or DUPLICATE naming the holder
        verdicts = _verdicts(lake, b)
        assert len(verdicts) == 40
        for i, sid in enumerate(shared):
            status, detail = verdicts[f'["{b}/s{i}.txt"]']
            if holders[sid] == [b]:
                assert (status, detail) == ("landed", None)
            else:
                assert (status, detail) == ("quarantined", f"same content is held by batch {holders[sid][0]!r}")
    assert lake.dataset("raw").count_rows("row_id = '__commit_token__'") == 1


def _rows(batch: str, ids: range, text: str) -> Any:
    samples = [Sample(sample_id=f"id{i}", batch=batch, source=f'["f{i}"]', modalities=["text"], text=text) for i in ids]
    return samples_to_arrow(samples, stage="cleaned", run_id=f"run-{batch}-{text}", code_version="c", input_version=1)[0]


def _stage_writer(batch: str, rounds: list[tuple[range, str]], barrier: Any) -> None:
    """Per round, in step with the other writer: ensure the table, write fragments, commit the batch together."""
    lake = LakeResource()  # the lake from TESSERA_LAKE_URI, credentials from AWS_* (inherited)
    for ids, text in rounds:
        barrier.wait()
        lake.ensure("cleaned", stage_schema())
        fragments = lake.write_rows("cleaned", _rows(batch, ids, text))
        barrier.wait()
        lake.commit_batch("cleaned", batch, fragments)
        barrier.wait()


@pytest.mark.slow
def test_two_processes_committing_different_batches_of_one_stage_table_lose_and_duplicate_nothing(s3_lake: str) -> None:
    """Both create the table at once, then commit their batch at once (same ids in both batches:
    row keys include the batch); then both replace their batch at once."""
    rounds = {
        "a": [(range(0, 60), "v1"), (range(30, 90), "v2")],
        "b": [(range(0, 60), "v1"), (range(0, 40), "v2")],
    }
    lake = LakeResource()
    assert lake.resolved_uri() == s3_lake and lake.dataset("cleaned") is None
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(len(rounds) + 1, timeout=BARRIER_TIMEOUT_S)
    procs = [ctx.Process(target=_stage_writer, args=(b, r, barrier)) for b, r in rounds.items()]
    for p in procs:
        p.start()
    try:
        versions = []
        for r in range(2):
            for _ in range(3):
                barrier.wait()
            ds = lake.dataset("cleaned")
            versions.append(ds.version)
            rows = ds.to_table(columns=["batch", "sample_id", "text", "status"]).to_pylist()
            for b, plan in rounds.items():
                ids, text = plan[r]
                mine = [x for x in rows if x["batch"] == b]
                assert sorted(x["sample_id"] for x in mine) == sorted(f"id{i}" for i in ids)  # none lost, none twice
                assert {(x["text"], x["status"]) for x in mine} == {(text, "landed")}
            assert len(rows) == sum(len(plan[r][0]) for plan in rounds.values())
    finally:
        if barrier.broken or any(p.is_alive() for p in procs):
            barrier.abort()
        for p in procs:
            p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    history = [v["version"] for v in lake.dataset("cleaned").versions()]
    assert history == list(range(1, history[-1] + 1))  # every version a distinct manifest, none replaced


def test_blobs_are_stored_once_on_s3_and_read_back_as_streams(s3_lake: str) -> None:
    lake = LakeResource()
    assert lake.resolved_uri() == s3_lake
    big = os.urandom(12 * 1024 * 1024 + 7)  # larger than one S3 multipart part
    data = {sha256_hex(big): big, sha256_hex(b"y"): b"y"}
    assert lake.commit_appends("blobs", lake.write_blobs(data, "a")) is not None
    assert lake.write_blobs(data, "b") == []  # already stored: nothing new to write
    streams = lake.open_blobs(data)
    assert set(streams) == set(data)
    with streams[sha256_hex(big)] as f:
        parts = []
        while part := f.read(1 << 20):  # streamed: 1 MiB at a time
            parts.append(part)
        assert b"".join(parts) == big and max(len(p) for p in parts) <= 1 << 20
        f.seek(5_000_000)
        assert f.read(100) == big[5_000_000:5_000_100]
    assert lake.read_blobs([sha256_hex(b"y")]) == {sha256_hex(b"y"): b"y"}


def test_the_loader_trains_from_an_s3_lake(s3_lake: str) -> None:
    """`tessera.connect("s3://…").dataset(...)`: rows and blobs read from the S3 server, masks per modality."""
    import io

    from PIL import Image

    import tessera
    from tessera.core.synth import encoded_audio, tone
    from tessera.resources.store import Lake

    picture = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(picture, format="PNG")
    media = {"image": picture.getvalue(), "audio": encoded_audio(tone(1.0, 440.0, 16_000), 16_000, "flac")}
    lake = Lake(s3_lake)
    lake.commit_appends("blobs", lake.write_blobs({sha256_hex(b): b for b in media.values()}, "b1"))
    samples = [
        Sample(sample_id=sha256_hex(m.encode()), batch="b1", source=f'["{m}"]', modalities=["text", m], text=f"a {m}",
               media_ref={m: sha256_hex(b)}, formats={m: "png:rgb" if m == "image" else "flac"})
        for m, b in media.items()
    ]  # fmt: skip
    rows, _ = samples_to_arrow(samples, run_id="r1", code_version="c1", input_version=0)
    lake.ensure("samples", stage_schema())
    lake.commit_batch("samples", "b1", lake.write_rows("samples", rows))
    ds = tessera.connect(s3_lake).dataset(image_size=16, audio_window_s=0.5)
    batch = tessera.collate(sorted((ds[i] for i in range(len(ds))), key=lambda it: it["text"]))
    assert batch["text"] == ["a audio", "a image"]
    assert batch["mask"]["image"].tolist() == [False, True] and batch["mask"]["audio"].tolist() == [True, False]
    assert tuple(batch["image"].shape) == (2, 3, 16, 16) and batch["image"][1, 0].float().mean() > 150  # red, decoded
    assert batch["audio_lengths"].tolist() == [8000, 0]
