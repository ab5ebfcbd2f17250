"""Voice activity: Silero VAD's sequence model (ONNX weights ship inside the `silero-vad`
wheel, MIT), run with onnxruntime on the canonical 16 kHz track; one call per block of up to
512 frames of 32 ms, the LSTM state carried between blocks. The model file is found without
importing the package, whose import loads torch (core/onnx.py)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tessera.core.onnx import cpu_session, packaged_model

FRAME, CONTEXT, BLOCK = 512, 64, 512  # samples per 32 ms frame at 16 kHz, context carried per frame, frames per call


@functools.cache
def _session() -> Any:
    return cpu_session(packaged_model("silero_vad", "data", "silero_vad_16k_sequence.onnx", distribution="silero-vad"))


def speech_probabilities(samples: np.ndarray) -> np.ndarray:
    """Per 32 ms frame of 16 kHz mono samples, the probability that someone is speaking."""
    frames_total = -(-len(samples) // FRAME)
    if frames_total == 0:
        return np.zeros(0, np.float32)
    padded = np.zeros(frames_total * FRAME, np.float32)
    padded[: len(samples)] = samples
    frames = padded.reshape(frames_total, FRAME)
    contexts = np.zeros((frames_total, CONTEXT), np.float32)
    contexts[1:] = frames[:-1, -CONTEXT:]
    rows = np.concatenate([contexts, frames], axis=1)
    h = np.zeros((1, 1, 128), np.float32)
    c = np.zeros((1, 1, 128), np.float32)
    out = []
    session = _session()
    for first in range(0, frames_total, BLOCK):
        probs, h, c = session.run(["speech_probs", "hn", "cn"], {"input": rows[first : first + BLOCK], "h": h, "c": c})
        out.append(probs)
    return np.concatenate(out).reshape(-1)
