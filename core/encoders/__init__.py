"""Encoders and the transcriber: real models behind small protocols.

Invariant: vectors come only from a model that really ran; when a model cannot be
loaded, the modality is reported `encoder_unavailable` on each row — never faked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from tessera.core.records import Segment


class Encoder(Protocol):
    modality: str
    model_id: str  # what users configured: a hub id or a local path
    revision: str  # content hash of the weights actually loaded (model@revision)
    dim: int

    def encode(self, items: list[Any]) -> np.ndarray: ...  # (n, dim) float32, rows L2-normalised


class Transcriber(Protocol):
    model_id: str

    def transcribe(self, samples_16k: np.ndarray, no_speech_threshold: float) -> list[Segment]: ...


@dataclass(slots=True)
class Models:
    """The encoders a run has, and why the missing ones are missing (modality → reason)."""

    encoders: dict[str, Encoder] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    transcriber: Transcriber | None = None


def vector_column(modality: str, model_id: str) -> str:
    """One column per (modality, model): `vec_text__all_minilm_l6_v2`."""
    slug = re.sub(r"[^a-z0-9]+", "_", model_id.rstrip("/").rsplit("/", 1)[-1].lower()).strip("_")
    return f"vec_{modality}__{slug}"


def l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
