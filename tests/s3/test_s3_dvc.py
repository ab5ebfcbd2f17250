"""A release round trip through an S3 DVC remote (SeaweedFS, started by the tests): credentials
come from the environment, never from the repository."""

from __future__ import annotations

import json
import secrets

import pytest

from tests.e2e.dvc_project import drop, dvc, environment, project, release, sh, tessera

pytestmark = [pytest.mark.s3, pytest.mark.slow]


def test_a_release_pushed_to_s3_comes_back_digest_for_digest(s3_server, tmp_path) -> None:
    env = environment(s3_server.env())
    origin = project(tmp_path / "origin", env)
    url = f"s3://{s3_server.bucket}/dvc-{secrets.token_hex(3)}"
    sh(dvc(), "remote", "add", "-d", "-f", "store", url, cwd=origin, env=env)
    sh(dvc(), "remote", "modify", "store", "endpointurl", s3_server.endpoint, cwd=origin, env=env)
    config = (origin / ".dvc" / "config").read_text()
    assert s3_server.secret_key not in config and s3_server.access_key not in config  # the repository holds no credentials
    tessera("ingest", str(drop(tmp_path / "drop", {"rocket.jpg": "rocket.jpg", "cat.png": "chelsea.png"})), "--batch", "b1", cwd=origin, env=env)
    sh(dvc(), "repro", cwd=origin, env=env)
    release("v1", origin, env)
    clone = tmp_path / "clone"
    sh("git", "clone", "-q", str(origin), str(clone), cwd=tmp_path, env=env)
    sh("git", "checkout", "-q", "v1", cwd=clone, env=env)
    sh(dvc(), "pull", "-q", cwd=clone, env=env)
    manifest = json.loads((clone / "releases" / "v1.json").read_text())
    script = (
        "import json; from tessera.resources.store import Lake; from tessera.resources.releases import table_digest; "
        f"v = {json.dumps(manifest['versions'])}; print(json.dumps({{t: table_digest(Lake(), t, n) for t, n in v.items()}}))"
    )
    from tests.e2e.dvc_project import REPO

    pulled = json.loads(sh("python", "-c", script, cwd=clone, env={**env, "TESSERA_HOME": ".tessera", "PYTHONPATH": str(REPO)}))
    assert pulled == manifest["digests"]
    hits = json.loads(tessera("search", "a photo of chelsea", "--json", cwd=clone, env=env))
    assert hits[0]["text"] == "a photo of chelsea"
