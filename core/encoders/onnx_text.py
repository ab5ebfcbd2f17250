"""A plain sentence-transformers text model (`core.encoders.text.plain`: transformer, mean or CLS
pooling, normalise) exported once to ONNX and run with onnxruntime: the query encoder of a
long-lived `tessera serve`. The same vectors as `SentenceEncoder` (within 1e-4 cosine,
tests/core/test_onnx_text.py); a query in a few milliseconds on one core; no torch at query time
(torch and onnx are needed only by `export`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from tessera.core.encoders import l2_normalise
from tessera.core.encoders.hashing import weights_revision
from tessera.core.encoders.text import plain
from tessera.core.onnx import cpu_session

INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export(path: str | Path, dest: Path) -> Path:
    """Write the ONNX graph of the folder's transformer (its last hidden state, batch and token
    axes dynamic) to `dest`, atomically: a reader sees the whole file or none."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    if plain(path) is None:
        raise ValueError(f"{path}: not a plain sentence-transformers folder (transformer, mean or CLS pooling, normalise)")
    model = AutoModel.from_pretrained(str(path), local_files_only=True, attn_implementation="eager").eval()
    sample = AutoTokenizer.from_pretrained(str(path), local_files_only=True)(["a sentence to trace the graph with", "two"], padding=True, return_tensors="pt")
    names = [n for n in INPUTS if n in sample]

    class Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: Any) -> Any:
            return self.model(**dict(zip(names, inputs, strict=True))).last_hidden_state

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f"{dest.name}.{os.getpid()}.tmp")
    with torch.no_grad():
        torch.onnx.export(
            Hidden(), tuple(sample[n] for n in names), str(tmp), input_names=names, output_names=["hidden"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]}, opset_version=17, dynamo=False,
        )  # fmt: skip
    tmp.replace(dest)
    return dest


class OnnxSentenceEncoder:
    modality = "text"
    dtype = "float32"

    def __init__(self, model_id: str, path: str, graph: Path, batch_size: int = 32, threads: int = 1) -> None:
        from tokenizers import Tokenizer

        recipe = plain(path)
        if recipe is None:
            raise ValueError(f"{path}: not a plain sentence-transformers folder; use SentenceEncoder")
        root = Path(path)
        config = json.loads((root / "config.json").read_text())
        self.model_id, self.revision, self.dim = model_id, weights_revision(path), int(config["hidden_size"])
        self._recipe, self._batch_size = recipe, batch_size
        self._tok = Tokenizer.from_file(str(root / "tokenizer.json"))
        self._tok.enable_truncation(max_length=min(recipe.max_length, int(config.get("max_position_embeddings", 512))))
        self._tok.enable_padding(pad_id=int(config.get("pad_token_id", 0)))
        self._session = cpu_session(graph, threads)
        self._names = [i.name for i in self._session.get_inputs()]

    def encode(self, items: list[Any]) -> np.ndarray:
        texts = [str(t).lower() if self._recipe.lower_case else str(t) for t in items]
        out = [self._run(texts[i : i + self._batch_size]) for i in range(0, len(texts), self._batch_size)]
        return l2_normalise(np.concatenate(out)) if out else np.zeros((0, self.dim), np.float32)

    def _run(self, texts: list[str]) -> np.ndarray:
        enc = self._tok.encode_batch(texts)
        arrays = {
            "input_ids": np.array([e.ids for e in enc], np.int64),
            "attention_mask": np.array([e.attention_mask for e in enc], np.int64),
            "token_type_ids": np.array([e.type_ids for e in enc], np.int64),
        }
        (hidden,) = self._session.run(None, {n: arrays[n] for n in self._names})
        if self._recipe.pooling == "cls":
            return hidden[:, 0].astype(np.float32)
        mask = arrays["attention_mask"][:, :, None].astype(np.float32)
        return ((hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)).astype(np.float32)


if __name__ == "__main__":  # python -m tessera.core.encoders.onnx_text MODEL_FOLDER DEST.onnx (a server's warm-up runs it apart, so torch never loads there)
    import sys

    export(sys.argv[1], Path(sys.argv[2]))
