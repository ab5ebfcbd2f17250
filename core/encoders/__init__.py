"""Encoders and the transcriber: real models behind small protocols.

Invariant: vectors come only from a model that really ran; when a model cannot be
loaded, the modality is reported `encoder_unavailable` on each row — never faked.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from tessera.core.records import Segment

ENCODED = ("text", "image", "audio")  # the modalities with vector columns, in column order


class Encoder(Protocol):
    modality: str
    model_id: str  # what users configured: a hub id or a local path
    revision: str  # content hash of the weights actually loaded (model@revision)
    dim: int

    def encode(self, items: list[Any]) -> np.ndarray: ...  # (n, dim) float32, rows L2-normalised


class Transcriber(Protocol):
    model_id: str

    def transcribe(self, samples_16k: np.ndarray, no_speech_threshold: float) -> list[Segment]: ...


class Models:
    """The encoders and the transcriber a stage may use, and why a missing one is missing.

    With a `loader`, each model loads the first time an operator asks for it (`encoder`,
    `transcriber`): a chunk with no captioned picture never loads CLIP, and a stage whose
    samples need no model loads none. `loader(name)` returns the model, or a one-line reason
    there is none; each name is asked at most once."""

    def __init__(
        self,
        encoders: dict[str, Encoder] | None = None,
        unavailable: dict[str, str] | None = None,
        transcriber: Transcriber | None = None,
        *,
        loader: Callable[[str], Any] | None = None,
        wanted: tuple[str, ...] = (),
    ) -> None:
        self._got: dict[str, Any] = {**(unavailable or {}), **(encoders or {})}
        if transcriber is not None:
            self._got["transcriber"] = transcriber
        self._loader, self._wanted = loader, tuple(w for w in wanted if w not in self._got)

    def _get(self, name: str) -> Any:
        if name not in self._got:
            self._got[name] = self._loader(name) if self._loader is not None and name in self._wanted else "not configured for this stage"
        return self._got[name]

    def encoder(self, modality: str) -> Encoder | None:
        got = self._get(modality)
        return None if isinstance(got, str) else got

    def why(self, modality: str) -> str:
        """Why `modality` has no encoder here (loads it first if it was never asked for)."""
        got = self._get(modality)
        return got if isinstance(got, str) else ""

    @property
    def transcriber(self) -> Transcriber | None:
        got = self._get("transcriber")
        return None if isinstance(got, str) else got

    @property
    def encoders(self) -> dict[str, Encoder]:
        """Every encoder this stage may use, loading those not loaded yet."""
        return {m: e for m in ENCODED if m in {*self._wanted, *self._got} and (e := self.encoder(m)) is not None}


def vector_column(modality: str, model_id: str) -> str:
    """One column per (modality, model): `vec_text__all_minilm_l6_v2`."""
    slug = re.sub(r"[^a-z0-9]+", "_", model_id.rstrip("/").rsplit("/", 1)[-1].lower()).strip("_")
    return f"vec_{modality}__{slug}"


def l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
