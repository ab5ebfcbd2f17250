"""The `s3` tests' lake: a fresh prefix on the session's SeaweedFS (`s3_server`, tests/conftest.py;
the server itself: tests/servers.py)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from tests.servers import S3Server


@pytest.fixture
def s3_lake(s3_server: S3Server, tessera_home: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    """`TESSERA_LAKE_URI` = a fresh `s3://bucket/<test>/lake`, with the server's credentials in the
    environment (child processes inherit them). Returns the lake URI."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    uri = f"s3://{s3_server.bucket}/{request.node.name.replace('[', '-').rstrip(']')}-{secrets.token_hex(3)}/lake"
    monkeypatch.setenv("TESSERA_LAKE_URI", uri)
    return uri
