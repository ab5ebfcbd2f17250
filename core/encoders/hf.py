"""CLIP (image) and CLAP (audio) encoders loaded by Hugging Face id or local directory."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from tessera.core.encoders import l2_normalise


def _features(out: Any) -> Any:
    """transformers 5 returns an output object from get_*_features; older versions a tensor."""
    return getattr(out, "pooler_output", None) if not hasattr(out, "detach") else out


def _to_device(batch: Any, device: str, dtype: Any) -> Any:
    """Preprocessed (already resized) inputs onto the device: through pinned memory on CUDA, so the
    copy overlaps the work queued before it."""
    if device.startswith("cuda"):
        return batch.pin_memory().to(device, dtype, non_blocking=True)
    return batch.to(device, dtype)


def _revision(model: Any, source: str) -> str:
    commit = getattr(model.config, "_commit_hash", None)
    if commit:
        return str(commit)[:12]
    from tessera.core.encoders.hashing import weights_revision

    return weights_revision(source)


class _HubEncoder:
    """A transformers model + its preprocessor, by hub id or local directory, on `device`."""

    modality = ""
    model_class = ""  # names in transformers, imported lazily
    processor_class = ""

    def __init__(
        self, source: str, *, model_id: str = "", device: str = "cpu", allow_download: bool = False, dtype: str = "float32"
    ) -> None:
        import torch
        import transformers

        self.model_id, self.dtype = model_id or source, dtype
        self._device = device
        self._dtype = getattr(torch, dtype)
        load = {"local_files_only": not allow_download}
        self._processor = getattr(transformers, self.processor_class).from_pretrained(source, **load) if self.processor_class else None
        self._model = getattr(transformers, self.model_class).from_pretrained(source, **load).to(device, self._dtype).eval()
        self.revision = _revision(self._model, source)
        self.dim = int(self._model.config.projection_dim)
        # the text tower's tokenizer: captions into this model's space (alignment scores, text queries)
        try:
            self._tokenizer = transformers.AutoTokenizer.from_pretrained(source, **load)
            self.text_unavailable = ""
        except Exception as exc:  # a checkpoint saved without its tokenizer: pictures or sounds only
            self._tokenizer, self.text_unavailable = None, f"no tokenizer beside {self.model_id} ({type(exc).__name__})"
        if self._tokenizer is not None and len(self._tokenizer) < 8:  # transformers builds an empty one where no files are
            self._tokenizer, self.text_unavailable = None, f"no tokenizer beside {self.model_id} (no vocabulary files)"

    def encode_text(self, items: list[Any]) -> np.ndarray:
        """Texts into the same space as `encode`'s media (the model's text tower), L2-normalised."""
        import torch

        if self._tokenizer is None:
            raise LookupError(self.text_unavailable)
        inputs = self._tokenizer([str(t) for t in items], padding=True, truncation=True, return_tensors="pt")
        wanted = {k: v.to(self._device) for k, v in inputs.items() if k in ("input_ids", "attention_mask")}
        with torch.inference_mode():
            feats = _features(self._model.get_text_features(**wanted))
        return l2_normalise(feats.float().cpu().numpy())


class ClipImageEncoder(_HubEncoder):
    modality = "image"
    model_class = "CLIPModel"
    processor_class = "AutoImageProcessor"

    def prepare(self, items: list[Any]) -> Any:
        """Decode and resize on the CPU (the model sees only its input size)."""
        from PIL import Image

        images = [Image.open(io.BytesIO(b)).convert("RGB") if isinstance(b, bytes) else b for b in items]
        return self._processor(images=images, return_tensors="pt")["pixel_values"]

    def run(self, pixels: Any) -> np.ndarray:
        import torch

        with torch.inference_mode():
            feats = _features(self._model.get_image_features(pixel_values=_to_device(pixels, self._device, self._dtype)))
        return l2_normalise(feats.float().cpu().numpy())

    def encode(self, items: list[Any]) -> np.ndarray:
        return self.run(self.prepare(items))


class ClapAudioEncoder(_HubEncoder):
    modality = "audio"
    model_class = "ClapModel"
    processor_class = "ClapFeatureExtractor"

    def prepare(self, items: list[Any]) -> Any:
        """`items` are canonical 16 kHz mono FLAC bytes: decoded, resampled to the extractor's rate, to mel features."""
        import torch
        import torchaudio

        from tessera.core.decode.audio import read_audio

        rate = int(self._processor.sampling_rate)
        resample = torchaudio.transforms.Resample(16_000, rate)
        waves = [resample(torch.from_numpy(read_audio(x).samples)).numpy() for x in items]
        return self._processor(waves, sampling_rate=rate, return_tensors="pt")["input_features"]

    def run(self, features: Any) -> np.ndarray:
        import torch

        with torch.inference_mode():
            feats = _features(self._model.get_audio_features(input_features=_to_device(features, self._device, self._dtype)))
        return l2_normalise(feats.float().cpu().numpy())

    def encode(self, items: list[Any]) -> np.ndarray:
        return self.run(self.prepare(items))


class _TextTower(_HubEncoder):
    """The text side of a two-tower model: query text into the vector space of its other tower
    (the same model@revision that made the column, so `model_id` names that column)."""

    processor_class = ""

    def __init__(self, source: str, **options: Any) -> None:
        super().__init__(source, **options)
        if self._tokenizer is None:
            raise LookupError(self.text_unavailable)

    def encode(self, items: list[Any]) -> np.ndarray:
        return self.encode_text(items)


class ClipTextEncoder(_TextTower):
    modality = "image"
    model_class = "CLIPModel"


class ClapTextEncoder(_TextTower):
    modality = "audio"
    model_class = "ClapModel"
