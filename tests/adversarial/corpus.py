"""The bad-input corpus, generated: each kind is a set of files (and manifest rows) whose names
say the kind, with the outcome a user should see: landed, or quarantined at a stage with a
reason code. Nothing here is downloaded; a fresh corpus is made per run."""

from __future__ import annotations

import io
import json
import struct
import unicodedata
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

from core.synth import encoded_audio, tone, video_bytes, wav_bytes

PHOTOS = Path(skimage.data.__file__).parent
LANDED = ("landed", None)


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    files: dict[str, bytes]  # landing name → bytes
    expect: tuple[str, str | None]  # (stage, reason) of its first quarantine, or LANDED (it reached the last stage run)
    manifest: tuple[dict[str, str], ...] = ()  # manifest rows
    key: str = ""  # which of `files` (or manifest row) the outcome is read from; default: the first file


def _png(size: tuple[int, int] = (96, 64), seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _jpeg() -> bytes:
    return (PHOTOS / "rocket.jpg").read_bytes()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_bomb(w: int = 50_000, h: int = 50_000) -> bytes:
    """A PNG declaring w×h RGB pixels over a few hundred bytes of zlib (rows of zeros)."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    raw = zlib.compress(b"\0" * (1 + 3 * w) * 8, 9)  # only 8 rows' worth: the decoder must refuse before allocating
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", raw) + _chunk(b"IEND", b"")


def _gif_bomb() -> bytes:
    """A GIF whose logical screen is 65535×65535 with one 1×1 image in it."""
    head = b"GIF89a" + struct.pack("<HHBBB", 65535, 65535, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    image = b"," + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return head + image + b";"


def _tiff_bomb() -> bytes:
    """A little-endian TIFF declaring 100000×100000 8-bit greyscale, strips pointing nowhere."""
    entries = [(256, 4, 1, 100_000), (257, 4, 1, 100_000), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1), (273, 4, 1, 8), (277, 3, 1, 1), (278, 4, 1, 100_000), (279, 4, 1, 10)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries) + b"\0\0\0\0"
    return b"II*\0" + struct.pack("<I", 8) + ifd


def _wav_claiming(seconds: float, holding: float, rate: int = 16_000) -> bytes:
    """A PCM WAV whose header declares `seconds` of audio but which holds `holding`."""
    pcm = (tone(holding, 440.0, rate, 0.3) * 32767).astype("<i2").tobytes()
    declared = int(seconds * rate) * 2
    header = b"RIFF" + struct.pack("<I", 36 + declared) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16) + b"data" + struct.pack("<I", declared)
    return header + pcm


def _cut(data: bytes, share: float) -> bytes:
    return data[: max(1, int(len(data) * share))]


def kinds(extra: Callable[[str], None] | None = None) -> list[Kind]:
    rng = np.random.default_rng(11)
    noise = rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
    png, jpeg = _png(), _jpeg()
    wav = wav_bytes(tone(1.5, 440.0, 16_000), 16_000)
    flac = encoded_audio(tone(2.0, 330.0, 16_000), 16_000)
    mp4 = video_bytes(seconds=2.0, cues=[(0.2, 1.0, "hello")])
    nfc, nfd = unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")
    out = [
        # zero bytes, per modality
        Kind("empty-image", {"empty-image.png": b""}, ("raw", "EMPTY")),
        Kind("empty-audio", {"empty-audio.wav": b""}, ("raw", "EMPTY")),
        Kind("empty-video", {"empty-video.mp4": b""}, ("raw", "EMPTY")),
        Kind("empty-text", {"empty-text.txt": b""}, ("raw", "EMPTY")),
        Kind("empty-subtitles", {"empty-subtitles.srt": b""}, ("raw", "EMPTY")),
        # truncation at several offsets
        *(Kind(f"png-cut-{p}", {f"png-cut-{p}.png": _cut(png, p / 100)}, ("cleaned", "TRUNCATED")) for p in (10, 50, 90)),
        *(Kind(f"jpeg-cut-{p}", {f"jpeg-cut-{p}.jpg": _cut(jpeg, p / 100)}, ("cleaned", "TRUNCATED")) for p in (10, 50, 90)),
        Kind("flac-cut-50", {"flac-cut-50.flac": _cut(flac, 0.5)}, ("cleaned", "TRUNCATED")),
        Kind("mp4-cut-10", {"mp4-cut-10.mp4": _cut(mp4, 0.1)}, ("cleaned", "CORRUPT")),
        Kind("mp4-cut-50", {"mp4-cut-50.mp4": _cut(mp4, 0.5)}, ("cleaned", "CORRUPT")),
        # random bytes under media names
        Kind("noise-as-png", {"noise-as-png.png": noise}, ("raw", "CORRUPT")),
        Kind("noise-as-wav", {"noise-as-wav.wav": noise[:2000]}, ("raw", "CORRUPT")),
        Kind("noise-as-mp4", {"noise-as-mp4.mp4": noise[:3000]}, ("raw", "CORRUPT")),
        # valid files under the wrong name: bytes decide
        Kind("png-named-jpg", {"png-named-jpg.jpg": _png(seed=1)}, LANDED),
        Kind("wav-named-mp4", {"wav-named-mp4.mp4": wav_bytes(tone(1.2, 550.0, 16_000), 16_000)}, LANDED),
        # decompression bombs and huge declared sizes
        Kind("png-bomb", {"png-bomb.png": _png_bomb()}, ("cleaned", "TOO_LARGE")),
        Kind("gif-bomb", {"gif-bomb.gif": _gif_bomb()}, ("cleaned", "TOO_LARGE")),
        Kind("tiff-bomb", {"tiff-bomb.tif": _tiff_bomb()}, ("cleaned", "TOO_LARGE")),
        Kind("tiny-image", {"tiny-image.png": _png((8, 8), seed=2)}, ("cleaned", "LOW_QUALITY")),
        # audio whose header lies
        Kind("wav-claims-10h", {"wav-claims-10h.wav": _wav_claiming(36_000.0, 1.0)}, LANDED),
        Kind("wav-early-eof", {"wav-early-eof.wav": _cut(wav, 0.6)}, LANDED),
        Kind("audio-too-short", {"audio-too-short.wav": wav_bytes(tone(0.02, 440.0, 16_000), 16_000)}, ("cleaned", "EMPTY")),
        # video with streams beyond picture and sound
        Kind("video-with-subtitles", {"video-with-subtitles.mp4": mp4}, LANDED),
        Kind("video-silent", {"video-silent.mp4": video_bytes(seconds=1.5, with_audio=False)}, LANDED),
        # text
        Kind("latin1", {"latin1.txt": "café crème brûlée".encode("latin-1")}, ("cleaned", "BAD_ENCODING")),
        Kind("shift-jis", {"shift-jis.txt": "猫がマットの上に座っている".encode("shift_jis")}, ("cleaned", "BAD_ENCODING")),
        Kind("nul-in-text", {"nul-in-text.txt": b"a cat\x00on a mat"}, ("cleaned", "BAD_ENCODING")),
        Kind("utf8-bom", {"utf8-bom.txt": b"\xef\xbb\xbfa caption with a byte-order mark"}, LANDED),
        Kind("utf16-bom", {"utf16-bom.txt": "a caption in UTF-16".encode("utf-16")}, LANDED),
        Kind("huge-line", {"huge-line.txt": b"x" * (100 << 20)}, ("cleaned", "TOO_LARGE")),
        Kind("rtl-text", {"rtl-text.txt": "قطة تجلس على حصيرة في الشمس".encode()}, LANDED),
        Kind("zero-width-only", {"zero-width-only.txt": "\u200b\u200b\u2060".encode()}, ("unified", "LOW_QUALITY")),
        Kind("controls-in-text", {"controls-in-text.txt": b"a cat\x1b[31m on a\x07 mat"}, LANDED),
        Kind("markup-only", {"markup-only.txt": b"<p><br/></p>"}, ("unified", "LOW_QUALITY")),
        # subtitles with nothing to time
        Kind("orphan-subtitles", {"orphan-subtitles.srt": b"1\n00:00:01,000 --> 00:00:02,000\nno media\n"}, ("aligned", "UNPAIRED")),
        # names are data
        Kind("newline-name", {"new\nline.png": _png(seed=3)}, LANDED),
        Kind("nfc-twin", {f"{nfc}.png": _png(seed=4)}, LANDED),
        Kind("nfd-twin", {f"{nfd}.png": _png(seed=5)}, LANDED),
        Kind("leading-dash", {"-rf.png": _png(seed=6)}, LANDED),
        # duplicates within the batch
        Kind("duplicate-original", {"dup-a.png": _png(seed=7)}, LANDED),
        Kind("duplicate-copy", {"dup-b.png": _png(seed=7)}, ("raw", "DUPLICATE")),
        # a caption with its picture, and a caption alone (valid: any modality is a sample)
        Kind("caption-pair", {"pair.png": _png(seed=8), "pair.txt": b"random coloured noise"}, LANDED),
        Kind("caption-alone", {"caption-alone.txt": b"a caption without media"}, LANDED),
        # manifest rows that point outside the drop or at nothing
        # (manifest rows are keyed by line: manifest.jsonl#1 is the first row)
        Kind("manifest-traversal", {}, ("raw", "BAD_PATH"), ({"image": "../outside.png", "text": "escape"},), key="manifest.jsonl#1:../outside.png"),
        Kind("manifest-absolute", {}, ("raw", "BAD_PATH"), ({"image": "/etc/hostname", "text": "absolute"},), key="manifest.jsonl#2:/etc/hostname"),
        Kind("manifest-missing", {}, ("raw", "BAD_PATH"), ({"image": "not-here.png", "text": "missing"},), key="manifest.jsonl#3:not-here.png"),
        Kind("manifest-row-losing-a-part", {}, ("raw", "UNPAIRED"), key="manifest.jsonl#3"),
    ]
    return out


def write_drop(root: Path, corpus: list[Kind]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for kind in corpus:
        for name, data in kind.files.items():
            (root / name).write_bytes(data)
    rows = [r for kind in corpus for r in kind.manifest]
    manifest = root / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root.parent / "outside.png").write_bytes(_png(seed=9))
    return manifest
