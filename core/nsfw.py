"""How explicit a picture is: NudeNet's detector (YOLOv8n at 320 px, 18 body-part classes),
whose ONNX weights ship inside the `nudenet` wheel, run with onnxruntime on CPU without
importing the package (it would pull a second OpenCV). The score is the highest confidence of
an *exposed* explicit class anywhere in the picture; covered parts, faces and feet do not count.

Licence: the wheel's LICENSE file is the AGPL-3.0 while its metadata says MIT; the weights are
used unmodified. Known false positives: a coffee cup (skimage's `coffee`) reads 0.34 as exposed
buttocks, hence a default threshold of 0.6 and a steward's review rather than a silent drop."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from PIL import Image

from tessera.core.onnx import cpu_session, packaged_model

SIDE = 320  # the network's input: pictures are letterboxed to SIDE × SIDE (≈ 30 ms a picture on one core)
LABELS = (
    "FEMALE_GENITALIA_COVERED", "FACE_FEMALE", "BUTTOCKS_EXPOSED", "FEMALE_BREAST_EXPOSED", "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED", "ANUS_EXPOSED", "FEET_EXPOSED", "BELLY_COVERED", "FEET_COVERED", "ARMPITS_COVERED",
    "ARMPITS_EXPOSED", "FACE_MALE", "BELLY_EXPOSED", "MALE_GENITALIA_EXPOSED", "ANUS_COVERED", "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)  # fmt: skip  # the order of the network's class outputs (nudenet/nudenet.py)
EXPLICIT = tuple(LABELS.index(c) for c in ("BUTTOCKS_EXPOSED", "FEMALE_BREAST_EXPOSED", "FEMALE_GENITALIA_EXPOSED", "ANUS_EXPOSED", "MALE_GENITALIA_EXPOSED"))


@functools.cache
def _session() -> Any:
    return cpu_session(packaged_model("nudenet", "320n.onnx", distribution="nudenet (pip install --no-deps nudenet==3.4.2)"))


def _letterbox(im: Image.Image) -> np.ndarray:
    """As NudeNet prepares a picture: padded to a square at the bottom and right, then resized."""
    rgb = im.convert("RGB")
    side = max(rgb.size)
    square = Image.new("RGB", (side, side))
    square.paste(rgb, (0, 0))
    return np.asarray(square.resize((SIDE, SIDE), Image.Resampling.BILINEAR), np.float32).transpose(2, 0, 1) / 255.0


def class_scores(images: list[Image.Image]) -> np.ndarray:
    """(pictures, 18): each class's highest confidence anywhere in each picture. One network call
    a picture: on one CPU thread a batch is no faster, and the runtime keeps its largest call's
    activations allocated (a batch of 4: +49 MiB a worker, one picture: +12)."""
    session = _session()
    name = session.get_inputs()[0].name
    out = [session.run(None, {name: _letterbox(im)[None]})[0][0, 4:].max(axis=1) for im in images]
    return np.stack(out) if out else np.zeros((0, len(LABELS)), np.float32)


def nsfw_scores(images: list[Image.Image]) -> list[float]:
    """Per picture, the highest confidence of an exposed explicit part (0: none seen)."""
    scores = class_scores(images)
    return [round(float(s), 4) for s in scores[:, list(EXPLICIT)].max(axis=1)] if len(scores) else []
