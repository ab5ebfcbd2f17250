"""The packaged ONNX networks: found without importing their packages, with clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tessera.core.onnx import packaged_model

ROOT = Path(__file__).resolve().parents[2]


def test_a_packaged_model_is_a_file_in_its_wheel() -> None:
    path = packaged_model("nudenet", "320n.onnx")
    assert path.is_file() and path.parent.name == "nudenet"


@pytest.mark.parametrize(
    ("package", "parts", "says"),
    [("tessera_no_such_package", ("m.onnx",), "make setup"), ("nudenet", ("no-such-model.onnx",), "missing from the installed nudenet")],
)
def test_an_absent_package_or_file_names_the_fix(package: str, parts: tuple[str, ...], says: str) -> None:
    with pytest.raises(RuntimeError, match=says):
        packaged_model(package, *parts)


def test_loading_the_networks_imports_none_of_their_packages() -> None:
    """rapidocr-onnxruntime's own import pulls a second OpenCV (≈ 140 ms and tens of MiB in every
    worker that runs image.hflip), silero-vad's loads torch: only their weights are used."""
    code = (
        "import sys\n"
        "from tessera.core import nsfw, textdet, vad\n"
        "for m in (nsfw, textdet, vad): m._session()\n"
        "print(sorted(k for k in ('cv2', 'rapidocr_onnxruntime', 'nudenet', 'silero_vad', 'torch') if k in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
