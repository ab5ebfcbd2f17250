"""How much of a picture is writing: PP-OCRv4's text-detection network (DBNet), whose ONNX
weights ship inside the `rapidocr-onnxruntime` wheel (Apache-2.0), run with onnxruntime on
CPU. Only the detector runs (no recognition): a per-pixel text probability, of which the
score is the share of the picture where it is over 0.3."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from PIL import Image

from tessera.core.onnx import cpu_session, packaged_model

SIDE = 192  # a picture's longer side, in network pixels: ≈ 4 ms a 4:3 picture on one core
STRIDE = 32  # DBNet's input sides are multiples of this: the shorter side is padded up to one
MEAN, STD = np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225], np.float32)


@functools.cache
def _session() -> Any:
    return cpu_session(packaged_model("rapidocr_onnxruntime", "models", "ch_PP-OCRv4_det_infer.onnx", distribution="rapidocr-onnxruntime"))


def _fit(im: Image.Image) -> tuple[np.ndarray, tuple[int, int]]:
    """As PaddleOCR prepares a picture for detection: aspect ratio kept, each side a multiple of
    STRIDE (here by padding at the bottom and right, so the longer side is SIDE). A square
    letterbox would cost a wide picture its padding's compute, and shrink its writing no less."""
    rgb = im.convert("RGB")
    scale = SIDE / max(rgb.size)
    w, h = max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))
    canvas = np.zeros((-(-h // STRIDE) * STRIDE, -(-w // STRIDE) * STRIDE, 3), np.float32)
    canvas[:h, :w] = np.asarray(rgb.resize((w, h), Image.Resampling.BILINEAR), np.float32) / 255.0
    return ((canvas - MEAN) / STD).transpose(2, 0, 1)[None], (w, h)


def text_scores(images: list[Image.Image]) -> list[float]:
    """For each picture, the share of its area that the detector reads as text (0 for a photo
    without writing; a sign, a page or a caption burnt into the picture reads above 0.002).
    One network call a picture: on one CPU thread a batch is no faster, and the runtime keeps
    its largest call's activations allocated (a batch of 8: +108 MiB a worker, one picture: +15)."""
    session = _session()
    name = session.get_inputs()[0].name
    out: list[float] = []
    for im in images:
        x, (w, h) = _fit(im)
        prob = session.run(None, {name: x})[0][0, 0]
        out.append(round(float((prob[:h, :w] > 0.3).mean()), 5))
    return out
