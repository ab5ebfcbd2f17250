"""Landing drops on S3 (`s3://bucket/prefix`, a real S3 server): the sensor sees a drop once its
`_READY` marker is there, `raw` lands it, objects are read one at a time and streamed."""

from __future__ import annotations

import io
import json
import os
import secrets

import pytest
from dagster import DagsterInstance, SensorResult, SkipReason, build_sensor_context
from PIL import Image

from tessera.core.discover import LandingError
from tessera.core.records import Reason
from tessera.orchestration.cli import materialize
from tessera.orchestration.sensors import landing_drops
from tessera.resources.lake import LakeResource
from tessera.resources.landing import S3_READ_BUFFER, S3Landing, open_landing, ready_drops
from tests.servers import S3Server

pytestmark = pytest.mark.s3


def _png(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (96, 72), colour).save(buf, format="PNG")
    return buf.getvalue()


def _copy_drop(s3: S3Server, prefix: str, files: dict[str, bytes], ready: bool) -> None:
    """What a producer does: every file, then (last) the marker."""
    for name, body in files.items():
        assert s3.put(f"{prefix}/{name}", body) == 200
    if ready:
        assert s3.put(f"{prefix}/_READY", b"") == 200


@pytest.fixture
def landing_root(s3_lake: str, s3_server: S3Server) -> str:
    """A fresh `s3://bucket/<random>/landing` beside the test's lake (credentials already in the environment)."""
    return f"s3://{s3_server.bucket}/landing-{secrets.token_hex(3)}"


def test_an_s3_drop_lists_reads_and_streams_one_object_at_a_time(s3_server: S3Server, landing_root: str) -> None:
    big = os.urandom(3 * S3_READ_BUFFER + 11)
    prefix = landing_root.removeprefix(f"s3://{s3_server.bucket}/")
    _copy_drop(s3_server, f"{prefix}/d1", {"a.txt": b"hello", "sub/dir/big.bin": big, "caf\u00e9.txt": b"x"}, ready=True)
    landing = open_landing(f"{landing_root}/d1/")
    assert isinstance(landing, S3Landing) and landing.root == f"{landing_root}/d1"
    assert landing.list() == ["_READY", "a.txt", "caf\u00e9.txt", "sub/dir/big.bin"]
    assert landing.size("sub/dir/big.bin") == len(big) and landing.read("a.txt") == b"hello"
    with landing.open("sub/dir/big.bin") as stream:  # streamed: a bounded read-ahead, seekable
        head = stream.read(1000)
        stream.seek(2 * S3_READ_BUFFER)
        middle = stream.read(100)
        assert len(stream.peek(1 << 30)) <= S3_READ_BUFFER  # never more than the buffer in memory
    assert head == big[:1000] and middle == big[2 * S3_READ_BUFFER : 2 * S3_READ_BUFFER + 100]
    # a worker reads its chunk by name without listing the drop again
    worker = open_landing(landing.root, paths={"sub/dir/big.bin": landing.relative("sub/dir/big.bin")})
    assert worker.read("sub/dir/big.bin") == big
    with pytest.raises(LandingError) as unknown:
        worker.read("a.txt")
    assert unknown.value.reason is Reason.BAD_PATH
    small = S3Landing(landing.root, max_file_bytes=1000)
    small.list()
    with pytest.raises(LandingError) as too_large:
        small.read("sub/dir/big.bin")
    assert too_large.value.reason is Reason.TOO_LARGE and str(len(big)) in too_large.value.detail
    with pytest.raises(FileNotFoundError, match="holds no object"):
        open_landing(f"{landing_root}/nothing-here").list()
    with pytest.raises(ValueError, match="only local directories and s3://"):
        open_landing("gs://bucket/drop")


def test_a_drop_copied_under_an_s3_landing_prefix_is_seen_by_the_sensor_and_lands(
    s3_server: S3Server, s3_lake: str, landing_root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = landing_root.removeprefix(f"s3://{s3_server.bucket}/")
    monkeypatch.setenv("TESSERA_LANDING_ROOT", landing_root)
    lake = LakeResource()
    with DagsterInstance.ephemeral() as instance:
        empty = landing_drops(build_sensor_context(instance=instance, resources={"lake": lake}))
        assert isinstance(empty, SkipReason) and "no new complete drop" in empty.skip_message
        drop = {"red.png": _png((200, 40, 40)), "blue.png": _png((40, 40, 200)), "blue.txt": b"a plain blue square\n",
                "notes/readme.txt": b"a text-only note about the drop\n", "manifest.csv": b"path,text\nred.png,a plain red square\n"}  # fmt: skip
        _copy_drop(s3_server, f"{prefix}/drop 2026-12-07", drop, ready=True)
        _copy_drop(s3_server, f"{prefix}/half-copied", {"x.txt": b"not yet"}, ready=False)
        assert [d.folder for d in ready_drops(landing_root, "_READY")] == ["drop 2026-12-07"]  # the unready drop waits
        result = landing_drops(build_sensor_context(instance=instance, resources={"lake": lake}))
        assert isinstance(result, SensorResult)
        assert [r.partition_key for r in result.run_requests] == ["drop-2026-12-07"]
        info = lake.batch_info("drop-2026-12-07")
        assert info["uri"] == f"{landing_root}/drop 2026-12-07" and info["manifest"] == f"{landing_root}/drop 2026-12-07/manifest.csv"
        instance.add_dynamic_partitions("batch", ["drop-2026-12-07"])  # what the daemon does with the request
        again = landing_drops(build_sensor_context(instance=instance, resources={"lake": lake}))
        assert isinstance(again, SkipReason)
    assert materialize("drop-2026-12-07", ["raw"], quiet=True)["success"]
    rows = lake.dataset("raw").to_table(columns=["source", "status", "reason", "modalities"], filter="batch = 'drop-2026-12-07'").to_pylist()
    by_source = {r["source"]: r for r in rows}
    for source in ('["blue.png", "blue.txt"]', '["manifest.csv#2", "red.png"]'):  # captioned by stem, and by the manifest read from S3
        assert (by_source[source]["status"], sorted(by_source[source]["modalities"])) == ("landed", ["image", "text"])
    assert by_source['["notes/readme.txt"]']["status"] == "landed"
    assert (by_source['["_READY"]']["status"], by_source['["_READY"]']["reason"]) == ("quarantined", "EMPTY")
    # every object of the drop is in exactly one row (the manifest's rows are its own inputs)
    named = [n for r in rows for n in json.loads(r["source"]) if not n.startswith("manifest.csv")]
    assert sorted(named) == ["_READY", "blue.png", "blue.txt", "notes/readme.txt", "red.png"] and len(rows) == 4
    assert lake.resolved_uri().startswith("s3://")


def test_tessera_ingest_registers_an_s3_prefix_and_refuses_a_wrong_one_in_one_line(
    s3_server: S3Server, s3_lake: str, landing_root: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from tessera.orchestration.cli import main

    prefix = landing_root.removeprefix(f"s3://{s3_server.bucket}/")
    _copy_drop(s3_server, f"{prefix}/by-hand", {"green.png": _png((40, 200, 40)), "green.txt": b"a plain green square\n"}, ready=False)
    assert main(["ingest", f"{landing_root}/by-hand/", "--batch", "by-hand", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"batch": "by-hand", "uri": f"{landing_root}/by-hand", "manifest": None, "files": 2}
    assert materialize("by-hand", ["raw"], quiet=True)["success"]
    rows = LakeResource().dataset("raw").to_table(columns=["source", "status"], filter="batch = 'by-hand'").to_pylist()
    assert rows == [{"source": '["green.png", "green.txt"]', "status": "landed"}]
    assert main(["ingest", f"{landing_root}/nothing-here", "--batch", "nothing"]) == 1
    err = capsys.readouterr().err.strip()
    assert "holds no object" in err and "\n" not in err
