"""The demo corpus: real photos shipped with scikit-image (captions written by us), generated
audio and video (one with an embedded subtitle track), and deliberately broken files."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

from tessera.core.synth import chirp_with_pauses, encoded_audio, tone, video_bytes, wav_bytes

PHOTOS = {  # scikit-image file → our caption
    "astronaut.png": "a portrait of an astronaut with the American flag on the left",
    "chelsea.png": "a tabby cat looking at the camera",
    "rocket.jpg": "a rocket standing on a launchpad",
    "camera.png": "a person looking through a camera on a tripod",
    "horse.png": "a black-and-white silhouette of a horse",
}
FIELD_DAY = "2026-05-01"
SUBTITLES = [(0.4, 1.4, "a gradient starts to move"), (1.6, 2.8, "the colours drift to the right")]

# What each broken file must become (reason code), for the demo printout and the tests.
EXPECTED_QUARANTINE = {
    "broken/truncated.png": "TRUNCATED",
    "broken/random.jpg": "CORRUPT",
    "broken/empty.wav": "EMPTY",
    "broken/latin1.txt": "BAD_ENCODING",
    "coffee_copy.png": "DUPLICATE",
}


def build_demo_corpus(dest: Path) -> Path:
    """Write the demo landing drop to `dest` (replaced if present); returns `dest`."""
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "broken").mkdir(parents=True)
    data_dir = Path(skimage.data.__file__).parent
    for name, caption in PHOTOS.items():
        shutil.copyfile(data_dir / name, dest / name)
        (dest / name).with_suffix(".txt").write_text(caption + "\n", encoding="utf-8")
    coffee = (data_dir / "coffee.png").read_bytes()
    (dest / "coffee.png").write_bytes(coffee)  # uncaptioned photo …
    (dest / "coffee_copy.png").write_bytes(coffee)  # … and an exact copy of it
    (dest / "tone.wav").write_bytes(wav_bytes(tone(2.0, 440.0, 44_100), 44_100, channels=2))
    (dest / "tone.txt").write_text("a steady 440 Hz tone, left channel louder than the right\n", encoding="utf-8")
    (dest / "chirps.flac").write_bytes(encoded_audio(chirp_with_pauses(3.0), 22_050, "flac"))
    (dest / "gradient.mp4").write_bytes(video_bytes(3.0, cues=SUBTITLES))
    (dest / "gradient.txt").write_text("a moving colour gradient with subtitles\n", encoding="utf-8")
    # a camera and a separate recorder, paired by their clocks (no shared stem): the recording
    # started a second after the pictures, so the sample's track is placed a second late
    (dest / "field").mkdir()
    (dest / "field/camera_0042.mp4").write_bytes(video_bytes(3.0, with_audio=False, recorded_at=f"{FIELD_DAY}T10:00:00Z"))
    (dest / "field/recorder_take3.wav").write_bytes(encoded_audio(chirp_with_pauses(3.0, 16_000), 16_000, "wav", recorded_at=f"{FIELD_DAY}T10:00:01"))
    (dest / "notes.txt").write_text("Caf\u0065\u0301 notes: a text-only sample, NFD on disk, NFC in the lake.\n", encoding="utf-8")
    # broken on purpose
    png = io.BytesIO()
    Image.fromarray(np.asarray(skimage.data.astronaut())[::2, ::2]).save(png, format="PNG")
    (dest / "broken/truncated.png").write_bytes(png.getvalue()[: len(png.getvalue()) // 2])
    (dest / "broken/random.jpg").write_bytes(np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    (dest / "broken/empty.wav").write_bytes(b"")
    (dest / "broken/latin1.txt").write_bytes("caf\u00e9 cr\u00e8me br\u00fbl\u00e9e".encode("latin-1"))
    return dest
