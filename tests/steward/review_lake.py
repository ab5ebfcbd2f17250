"""A real lake with something in every corner of the review queue, made the way a user makes
one (`tessera ingest` + `tessera materialize` through Dagster): small icons LOW_QUALITY at
cleaned, a near-duplicate photo pair DUPLICATE at unified, a speech-like recording whose
subtitles run late MISALIGNED at aligned, and a captioned photo and a subtitled video that land."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image

from tessera.core.decode.audio import encode_audio
from tessera.orchestration.cli import ingest, materialize
from tests.core.conftest import mp4_bytes

PHOTOS = Path(skimage.data.__file__).parent
BATCH = "web"
ICONS = 5  # under image.min_side (32 px): LOW_QUALITY at cleaned
# (start, end) s of noise bursts over room tone; the subtitles claim them 2.5 s later
UTTERANCES = [(1.0, 2.5), (4.0, 4.8), (6.0, 8.5), (10.0, 11.0), (13.5, 15.0), (17.0, 17.6)]


def _speechlike(rate: int = 16_000) -> bytes:
    rng = np.random.default_rng(7)
    track = rng.normal(0, 0.002, 20 * rate)
    for a, b in UTTERANCES:
        n = int((b - a) * rate)
        track[int(a * rate) : int(a * rate) + n] += rng.normal(0, 0.2, n) * np.hanning(n)
    return encode_audio(track.astype(np.float32))


def _srt(cues: list[tuple[float, float, str]]) -> str:
    t = lambda s: f"{int(s // 3600):02d}:{int(s % 3600 // 60):02d}:{int(s % 60):02d},{round(s % 1 * 1000):03d}"
    return "".join(f"{i}\n{t(a)} --> {t(b)}\n{text}\n\n" for i, (a, b, text) in enumerate(cues, start=1))


def make_drop(drop: Path) -> None:
    drop.mkdir(parents=True)
    shutil.copyfile(PHOTOS / "rocket.jpg", drop / "rocket.jpg")
    (drop / "rocket.txt").write_text("a rocket on the launch pad\n")
    for i in range(ICONS):
        Image.fromarray(np.full((20, 20, 3), 40 * i + 20, np.uint8)).save(drop / f"icon{i}.png")
    camera = np.asarray(Image.open(PHOTOS / "camera.png").convert("RGB")).copy()
    Image.fromarray(camera).save(drop / "camera.png")
    camera[:4, :4] = 255 - camera[:4, :4]  # other bytes, same picture: a near-duplicate
    Image.fromarray(camera).save(drop / "camera-copy.png")
    (drop / "talk.wav").write_bytes(_speechlike())
    (drop / "talk.srt").write_text(_srt([(a + 2.5, b + 2.5, f"line {i}") for i, (a, b) in enumerate(UTTERANCES)]))
    (drop / "clip.mp4").write_bytes(mp4_bytes(2.0, cues=[(0.2, 0.9, "hello there"), (1.0, 1.8, "goodbye")]))


@contextlib.contextmanager
def review_env(home: Path) -> Iterator[None]:
    """TESSERA_HOME and DAGSTER_HOME at `home` (and no lake URI from outside) while inside."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TESSERA_HOME", str(home))
        mp.setenv("DAGSTER_HOME", str(home / "dagster"))
        mp.delenv("TESSERA_LAKE_URI", raising=False)
        yield


def build_review_lake(home: Path) -> str:
    """Ingest and run a drop into the lake under `home` (TESSERA_HOME must point there); the batch name."""
    drop = home / "drops" / BATCH
    make_drop(drop)
    ingest(str(drop), BATCH)
    assert materialize(BATCH, quiet=True)["success"]
    return BATCH
