"""Index plumbing rows for the index and maintenance tests: `samples`-shaped tables whose
vectors are seeded random unit vectors made with numpy, not embeddings of anything."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

VEC = "vec_text__plumbing"
DIM = 8


def plumbing_vectors(n: int, seed: int) -> np.ndarray:
    """Seeded random unit vectors: index plumbing input, not embeddings."""
    v = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def samples_batch(batch: str, vectors: np.ndarray, *, first: int, null_every: int = 0) -> pa.Table:
    """`samples`-shaped rows of one batch; every `null_every`-th row has no vector."""
    n = len(vectors)
    vec = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), DIM)
    if null_every:
        vec = pc.if_else(pa.array([i % null_every == 0 for i in range(n)]), pa.nulls(n, vec.type), vec)
    return pa.table(
        {
            "sample_id": [f"{batch}-{first + i:05d}" for i in range(n)],
            "batch": [batch] * n,
            "status": ["landed"] * n,
            "search_text": [f"{batch}word caption {i % 7}" for i in range(n)],
            VEC: vec,
        }
    )
