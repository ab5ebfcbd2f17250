"""Revision strings for loaded weights: a short content hash of the model directory."""

from __future__ import annotations

import hashlib
from pathlib import Path


def weights_revision(path: str | Path, limit_files: int = 64) -> str:
    """sha256 over the names and sizes+heads of weight/config files; stable across machines."""
    root = Path(path)
    if not root.is_dir():
        return "unknown"
    h = hashlib.sha256()
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in {".bin", ".safetensors", ".json", ".txt", ".model"})
    for p in files[:limit_files]:
        h.update(str(p.relative_to(root)).encode())
        h.update(str(p.stat().st_size).encode())
        with p.open("rb") as f:
            h.update(f.read(1 << 16))
    return h.hexdigest()[:12]
