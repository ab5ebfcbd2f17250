"""A small real corpus for the fault tests: two landing drops that share one sample.

Drop `a`: captioned photo, audio clip with caption, short video with subtitle cues and
caption, a truncated PNG (TRUNCATED at cleaned) and an empty WAV (EMPTY at raw).
Drop `b`: captioned photo, uncaptioned audio clip, a text-only note, random bytes named
.jpg (CORRUPT at raw). Both hold the same captioned coffee photo under different names
(same bytes → same sample id): it lands in one batch; the other holds it as DUPLICATE.

Everything is generated here (scikit-image photos, core.synth audio/video); kept small so a
whole `tessera materialize` costs little more than the command's start-up.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image

from tessera.core.synth import chirp_with_pauses, encoded_audio, tone, video_bytes, wav_bytes

SHARED_CAPTION = "a cup of coffee on a saucer\n"


def _photo(name: str, size: tuple[int, int]) -> bytes:
    im = Image.fromarray(getattr(skimage.data, name)()).convert("RGB").resize(size, Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def build_drops(root: Path) -> dict[str, Path]:
    """Write drops `a` and `b` under `root`; returns batch name → drop directory."""
    a, b = root / "drop_a", root / "drop_b"
    for d in (a, b):
        (d / "broken").mkdir(parents=True)
    shared = _photo("coffee", (64, 48))
    (a / "coffee.png").write_bytes(shared)
    (a / "coffee.txt").write_text(SHARED_CAPTION, encoding="utf-8")
    (b / "same_coffee.png").write_bytes(shared)  # another name, the same content
    (b / "same_coffee.txt").write_text(SHARED_CAPTION, encoding="utf-8")

    astronaut = _photo("astronaut", (64, 64))
    (a / "astronaut.png").write_bytes(astronaut)
    (a / "astronaut.txt").write_text("an astronaut with the flag on the left\n", encoding="utf-8")
    (a / "tone.wav").write_bytes(wav_bytes(tone(1.0, 440.0, 16_000), 16_000))
    (a / "tone.txt").write_text("a steady 440 Hz tone\n", encoding="utf-8")
    (a / "clip.mp4").write_bytes(video_bytes(1.0, fps=5, size=(64, 48), cues=[(0.1, 0.5, "hello"), (0.6, 0.9, "goodbye")]))
    (a / "clip.txt").write_text("a moving colour gradient\n", encoding="utf-8")
    (a / "broken/truncated.png").write_bytes(astronaut[: len(astronaut) // 2])
    (a / "broken/empty.wav").write_bytes(b"")

    (b / "cat.png").write_bytes(_photo("chelsea", (64, 48)))
    (b / "cat.txt").write_text("a tabby cat looking at the camera\n", encoding="utf-8")
    (b / "chirps.flac").write_bytes(encoded_audio(chirp_with_pauses(1.0), 22_050, "flac"))
    (b / "notes.txt").write_text("Cafe\u0301 notes: a text-only sample\n", encoding="utf-8")
    (b / "broken/random.jpg").write_bytes(np.random.default_rng(7).integers(0, 256, 2048, dtype=np.uint8).tobytes())
    return {"a": a, "b": b}


@pytest.fixture(scope="module")
def fault_drops(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_drops(tmp_path_factory.mktemp("drops"))
