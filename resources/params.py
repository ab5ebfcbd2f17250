"""params.yaml: every tunable, read through one place so a run can point at another file
(`ParamsResource`, in resources/params_resource.py, is the same for Dagster)."""

from __future__ import annotations

import copy
import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PARAMS = Path(__file__).resolve().parent.parent / "params.yaml"


def params_path() -> Path:
    """`TESSERA_PARAMS` names another params.yaml (an installed image, a test); default: the repository's."""
    return Path(os.environ.get("TESSERA_PARAMS") or DEFAULT_PARAMS)


@lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data


def load_params(path: str | Path | None = None) -> dict[str, Any]:
    """The params file, parsed once per (path, mtime); each caller gets its own copy, so a caller
    that edits what it got never changes what the next one reads."""
    p = Path(path) if path else params_path()
    if not p.is_file():
        raise FileNotFoundError(f"params file {p} not found; pass --params or restore params.yaml")
    return copy.deepcopy(_load(str(p), p.stat().st_mtime))


def stage_params_hash(params: dict[str, Any], stage: str) -> str:
    return hashlib.sha256(json.dumps(params.get(stage, {}), sort_keys=True, default=str).encode()).hexdigest()[:12]
