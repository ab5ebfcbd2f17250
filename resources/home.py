"""Where Tessera keeps its state. The one place (with orchestration/) that reads the environment."""

from __future__ import annotations

import os
from pathlib import Path


def tessera_home() -> Path:
    """`TESSERA_HOME`, default `./.tessera`; holds the Dagster instance, the lake and caches."""
    return Path(os.environ.get("TESSERA_HOME", ".tessera")).expanduser().resolve()


def releases_dir() -> Path:
    """Where each release's manifest is written as NAME.json: `TESSERA_RELEASES_DIR`; else, for a
    project's own lake (TESSERA_HOME inside this folder, as dvc.yaml sets it), `./releases` beside
    `dvc.yaml`, so that git keeps it with the `dvc.lock` it names; else `$TESSERA_HOME/releases`."""
    if os.environ.get("TESSERA_RELEASES_DIR"):
        return Path(os.environ["TESSERA_RELEASES_DIR"]).expanduser().resolve()
    home, here = tessera_home(), Path.cwd().resolve()
    return here / "releases" if home.is_relative_to(here) else home / "releases"


def lake_uri() -> str:
    """`TESSERA_LAKE_URI` (a directory or `s3://bucket/prefix`), default `$TESSERA_HOME/lake`."""
    return os.environ.get("TESSERA_LAKE_URI") or str(tessera_home() / "lake")


def s3_storage_options() -> dict[str, str]:
    """Credentials and endpoint for an S3-compatible lake, from the usual AWS variables."""
    keys = {
        "aws_access_key_id": "AWS_ACCESS_KEY_ID",
        "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
        "aws_endpoint": "AWS_ENDPOINT_URL",
        "aws_region": "AWS_REGION",
    }
    opts = {k: os.environ[v] for k, v in keys.items() if os.environ.get(v)}
    if opts.get("aws_endpoint", "").startswith("http://"):
        opts["allow_http"] = "true"
    return opts
