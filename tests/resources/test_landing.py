"""A real landing directory: odd names, links out, pipes — data to account for, never paths to follow."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tessera.core.discover import discover, split_source
from tessera.core.records import Reason
from tessera.resources.landing import LocalLanding, open_landing


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    root = tmp_path / "drop"
    (root / "nested" / "deeper").mkdir(parents=True)
    (root / "nested" / "deeper" / "note.txt").write_text("a note two folders down")
    (root / "weird name ☃ .txt").write_text("snowman")
    (root / os.fsdecode(b"bad\xffname.txt")).write_bytes(b"a file whose name is not UTF-8")
    (root / "secret.txt").symlink_to("/etc/hostname")
    (root / "inside.txt").symlink_to(root / "nested" / "deeper" / "note.txt")
    os.mkfifo(root / "pipe.wav")
    return root


def test_every_entry_is_listed_once_with_a_printable_name(drop: Path) -> None:
    names = LocalLanding(drop).list()
    assert "nested/deeper/note.txt" in names and "weird name ☃ .txt" in names
    assert "bad\\xffname.txt" in names  # undecodable bytes shown as escapes, and still readable
    assert all(n.encode("utf-8") for n in names)


def test_links_that_leave_the_drop_and_non_files_are_bad_paths(drop: Path) -> None:
    found = discover(LocalLanding(drop), "b1")
    reasons = {split_source(q.sample.source)[0]: q for q in found.quarantined}
    assert reasons["secret.txt"].reason is Reason.BAD_PATH and "leaves the landing directory" in reasons["secret.txt"].detail
    assert reasons["pipe.wav"].reason is Reason.BAD_PATH and "not a regular file" in reasons["pipe.wav"].detail
    # a link inside the drop is read like a file: same bytes as its target, so one of the two is a DUPLICATE
    assert reasons["nested/deeper/note.txt"].reason is Reason.DUPLICATE and "inside.txt" in reasons["nested/deeper/note.txt"].detail
    landed = sorted(n for s in found.samples for n in split_source(s.source))
    assert landed == sorted(["bad\\xffname.txt", "inside.txt", "weird name ☃ .txt"])
    assert sorted(found.inputs) == sorted([*landed, "nested/deeper/note.txt", "pipe.wav", "secret.txt"])


def test_a_file_over_the_size_limit_is_too_large_not_read(tmp_path: Path) -> None:
    (tmp_path / "big.wav").write_bytes(b"RIFF" + b"\0" * 5000)
    found = discover(LocalLanding(tmp_path, max_file_bytes=1000), "b1")
    (q,) = found.quarantined
    assert q.reason is Reason.TOO_LARGE and "5004 bytes" in q.detail


def test_missing_landing_and_unknown_schemes_fail_with_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        open_landing(str(tmp_path / "nope"))
    with pytest.raises(ValueError, match="only local directories and s3://bucket/prefix"):
        open_landing("gs://bucket/drop")  # S3 prefixes: tests/s3/test_s3_landing.py
