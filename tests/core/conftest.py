"""Tiny real media made in code (Pillow, PyAV, numpy, scikit-image photos) and a Sample builder.

Nothing is downloaded and nothing is read from disk: every fixture is a few kB of bytes
built here, so each test can say exactly what its input is.
"""

from __future__ import annotations

import fractions
import io
import wave
from collections.abc import Callable
from typing import Any

import av
import numpy as np
import pytest
import skimage.data
from PIL import Image

from tessera.core.ops.base import OpContext
from tessera.core.records import MODALITY_ORDER, Sample, compute_sample_id, sha256_hex
from tessera.core.sniff import sniff

# ---------------------------------------------------------------------------
# Builders (plain functions; exposed to tests through the factory fixtures below)
# ---------------------------------------------------------------------------


def photo(name: str, size: tuple[int, int]) -> Image.Image:
    """A real photo from scikit-image, resized to `size` (w, h), RGB."""
    arr = getattr(skimage.data, name)()
    im = Image.fromarray(arr)
    return im.convert("RGB").resize(size, Image.Resampling.LANCZOS)


def encode_image(im: Image.Image, fmt: str = "PNG", **kw: Any) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def wav_bytes(x: np.ndarray, rate: int) -> bytes:
    """16-bit PCM WAV via the stdlib; `x` is (n,) mono or (n, channels), floats in [-1, 1]."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    pcm = (np.clip(x, -1, 1) * 32767).round().astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(x.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def tone(seconds: float, rate: int, freq: float = 440.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return amp * np.sin(2 * np.pi * freq * t)


def flac_bytes(x: np.ndarray, rate: int) -> bytes:
    """Mono FLAC encoded by PyAV (libavcodec's flac encoder)."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="flac") as c:
        s = c.add_stream("flac", rate=rate, layout="mono")
        pcm = (np.clip(x, -1, 1) * 32767).round().astype(np.int16)
        for k in range(0, len(pcm), 1024):
            frame = av.AudioFrame.from_ndarray(pcm[None, k : k + 1024], format="s16", layout="mono")
            frame.sample_rate, frame.pts = rate, k
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return buf.getvalue()


_ASS_HEADER = (
    b"[Script Info]\nScriptType: v4.00+\nPlayResX: 384\nPlayResY: 288\n\n[V4+ Styles]\n"
    b"Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, "
    b"Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, "
    b"MarginR, MarginV, Encoding\n"
    b"Style: Default,Arial,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0\n\n"
    b"[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
)


def mp4_bytes(
    seconds: float = 2.0,
    fps: int = 10,
    size: tuple[int, int] = (64, 48),
    *,
    video: bool = True,
    audio: bool = True,
    cues: list[tuple[float, float, str]] | None = None,
) -> bytes:
    """An MP4: H.264 frames panning across a real photo, a 440 Hz AAC track, mov_text cues (s)."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as c:
        vs = c.add_stream("libx264", rate=fps) if video else None
        if vs is not None:
            vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
            vs.options = {"preset": "ultrafast", "tune": "zerolatency"}
        as_ = c.add_stream("aac", rate=16000, layout="mono") if audio else None
        ss = None
        if cues:
            ss = c.add_stream("mov_text")
            ss.codec_context.subtitle_header = _ASS_HEADER
            ss.time_base = ss.codec_context.time_base = fractions.Fraction(1, 1000)
        if vs is not None:
            base = np.asarray(photo("astronaut", (size[0] * 2, size[1])))
            n = round(seconds * fps)
            for i in range(n):
                x0 = int(i * size[0] / max(1, n - 1))
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(base[:, x0 : x0 + size[0]]), format="rgb24")
                frame.pts = i
                for p in vs.encode(frame):
                    c.mux(p)
            for p in vs.encode():
                c.mux(p)
        if as_ is not None:
            x = tone(seconds, 16000).astype(np.float32)
            for k in range(0, len(x), 1024):
                frame = av.AudioFrame.from_ndarray(x[None, k : k + 1024], format="fltp", layout="mono")
                frame.sample_rate, frame.pts = 16000, k
                for p in as_.encode(frame):
                    c.mux(p)
            for p in as_.encode():
                c.mux(p)
        for start, end, text in cues or []:
            mux_cue(c, ss, start, end, text)
    return buf.getvalue()


def mux_cue(container: Any, stream: Any, start: float, end: float, text: str) -> None:
    """One cue (s) into a subtitle stream (mov_text, WebVTT) whose time base is 1 ms."""
    start_ms, end_ms = round(start * 1000), round(end * 1000)
    sub = av.subtitles.subtitle.SubtitleSet.create(text=f"0,0,Default,,0,0,0,,{text}".encode(), start=0, end=end_ms - start_ms, pts=start_ms)
    pkt = stream.codec_context.encode_subtitle(sub)
    pkt.stream = stream
    pkt.pts = pkt.dts = start_ms
    pkt.duration = end_ms - start_ms
    pkt.time_base = fractions.Fraction(1, 1000)
    container.mux(pkt)


def build_sample(batch: str = "b1", *, formats: dict[str, str] | None = None, **parts: bytes) -> Sample:
    """A raw Sample as discovery builds it: id from the bytes, every part's bytes in `media`."""
    return Sample(
        sample_id=compute_sample_id(parts),
        batch=batch,
        source=f'["{"+".join(sorted(parts))}"]',
        modalities=[m for m in MODALITY_ORDER if m in parts],
        raw_sha256={m: sha256_hex(b) for m, b in parts.items()},
        media=dict(parts),
        formats=formats if formats is not None else {m: _format_of(m, b) for m, b in parts.items()},
    )


def _format_of(modality: str, data: bytes) -> str:
    """The format discovery would record (sniffed from the bytes, as if the file had a usual suffix)."""
    if modality == "text":
        return "txt"
    if modality == "subtitles":
        return "vtt" if data.lstrip(b"\xef\xbb\xbf").startswith(b"WEBVTT") else "srt"
    return sniff(data).format


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------

SRT = b"1\n00:00:00,500 --> 00:00:01,200\n<i>Hello</i> there\n\n2\n00:00:01,500 --> 00:00:01,900\nSecond line\nwraps here\n"

VTT = b"WEBVTT\n\n00:00.250 --> 00:01.000 align:start\nFirst {\\an8}cue\n\n01:00:02.000 --> 01:00:03.500\nLate cue\n"

MP4_CUES = [(0.2, 0.9, "Hello there"), (1.1, 1.8, "Second cue")]


@pytest.fixture(scope="session")
def astronaut_png() -> bytes:
    """96x64 RGB PNG of the scikit-image astronaut photo."""
    return encode_image(photo("astronaut", (96, 64)), "PNG")


@pytest.fixture(scope="session")
def astronaut_jpeg() -> bytes:
    """The same picture as `astronaut_png`, re-encoded as JPEG (different bytes, same content)."""
    return encode_image(photo("astronaut", (96, 64)), "JPEG", quality=80)


@pytest.fixture(scope="session")
def camera_png() -> bytes:
    """80x60 grayscale PNG of the scikit-image cameraman (mode L)."""
    return encode_image(Image.fromarray(skimage.data.camera()).resize((80, 60), Image.Resampling.LANCZOS), "PNG")


@pytest.fixture(scope="session")
def chelsea_png() -> bytes:
    return encode_image(photo("chelsea", (90, 60)), "PNG")


@pytest.fixture(scope="session")
def truncated_png(astronaut_png: bytes) -> bytes:
    """A valid PNG cut in the middle of its pixel data."""
    return astronaut_png[: len(astronaut_png) // 2]


@pytest.fixture(scope="session")
def random_bytes() -> bytes:
    return np.random.default_rng(1234).bytes(3000)


@pytest.fixture(scope="session")
def tone_wav() -> bytes:
    """1 s of 440 Hz at amplitude 0.3, 22.05 kHz stereo (not yet canonical)."""
    x = tone(1.0, 22050)
    return wav_bytes(np.stack([x, x], axis=1), 22050)


@pytest.fixture(scope="session")
def silence_wav() -> bytes:
    """1 s of digital silence, 16 kHz mono."""
    return wav_bytes(np.zeros(16000), 16000)


@pytest.fixture(scope="session")
def tone_flac() -> bytes:
    return flac_bytes(tone(1.0, 16000), 16000)


@pytest.fixture(scope="session")
def mp4_with_subs() -> bytes:
    """2 s, 10 fps, 64x48 H.264 + 16 kHz AAC tone + a mov_text track with MP4_CUES."""
    return mp4_bytes(2.0, 10, (64, 48), cues=MP4_CUES)


@pytest.fixture(scope="session")
def audio_only_mp4() -> bytes:
    """An MP4 container (sniffs as video) holding only an AAC track."""
    return mp4_bytes(1.0, video=False, audio=True)


@pytest.fixture(scope="session")
def srt_bytes() -> bytes:
    return SRT


@pytest.fixture(scope="session")
def vtt_bytes() -> bytes:
    return VTT


@pytest.fixture(scope="session")
def latin1_text() -> bytes:
    return "café au lait".encode("latin-1")


@pytest.fixture(scope="session")
def nfd_text() -> bytes:
    """UTF-8 text whose accents are decomposed (NFD): 'cafe' + U+0301."""
    return "  Cafe\u0301 on the left\r\nside.  ".encode()


@pytest.fixture(scope="session")
def make_sample() -> Callable[..., Sample]:
    """`make_sample(image=..., text=..., formats=..., batch=...)` → a raw Sample."""
    return build_sample


@pytest.fixture
def ctx() -> OpContext:
    return OpContext(batch="b1", seed=7)


@pytest.fixture(scope="session")
def mk_wav() -> Callable[[np.ndarray, int], bytes]:
    return wav_bytes


@pytest.fixture(scope="session")
def mk_tone() -> Callable[..., np.ndarray]:
    return tone


@pytest.fixture(scope="session")
def mk_image() -> Callable[..., bytes]:
    """`mk_image(photo_name, (w, h), fmt="PNG", **save_kw)` → bytes."""

    def make(name: str, size: tuple[int, int], fmt: str = "PNG", **kw: Any) -> bytes:
        return encode_image(photo(name, size), fmt, **kw)

    return make


@pytest.fixture(scope="session")
def mk_mp4() -> Callable[..., bytes]:
    return mp4_bytes
