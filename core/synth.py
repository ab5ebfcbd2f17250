"""Generated media with known content, for the demo, tests and benchmarks (nothing downloaded).

Each function returns file bytes; the same arguments give the same bytes.
"""

from __future__ import annotations

import io
import wave
from fractions import Fraction

import av
import numpy as np

_MOV_TEXT_HEADER = (
    b"[Script Info]\nScriptType: v4.00+\n\n[Events]\n"
    b"Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
)


def tone(seconds: float, freq: float = 440.0, rate: int = 22_050, amplitude: float = 0.4) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def chirp_with_pauses(seconds: float, rate: int = 22_050) -> np.ndarray:
    """Speech-like envelope: bursts of rising tones separated by pauses."""
    t = np.arange(int(seconds * rate)) / rate
    carrier = np.sin(2 * np.pi * (200 + 300 * (t % 0.5)) * t)
    envelope = (np.sin(2 * np.pi * 1.5 * t) > 0).astype(np.float32)
    return (0.3 * carrier * envelope).astype(np.float32)


def wav_bytes(samples: np.ndarray, rate: int, channels: int = 1) -> bytes:
    """16-bit PCM WAV; a mono signal is duplicated when `channels` is 2."""
    x = np.clip(samples, -1, 1)
    if channels == 2:
        x = np.stack([x, x * 0.8], axis=1).reshape(-1)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((x * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def encoded_audio(samples: np.ndarray, rate: int, fmt: str = "flac", recorded_at: str | None = None) -> bytes:
    """Mono audio in a real codec (`flac`, `ogg` with Opus, `mp3`, `wav`… via PyAV). `recorded_at`
    (ISO 8601) is the recorder's clock: `creation_time`, or for `wav` a broadcast-WAV `bext`
    origination date and time (local, no zone)."""
    codec = {"flac": "flac", "ogg": "libopus", "mp3": "libmp3lame", "wav": "pcm_s16le"}.get(fmt, fmt)
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=fmt, options={"write_bext": "1"} if fmt == "wav" and recorded_at else None) as out:
        if recorded_at and fmt == "wav":
            day, _, clock = recorded_at.partition("T")
            out.metadata.update(origination_date=day, origination_time=clock[:8])
        elif recorded_at:
            out.metadata["creation_time"] = recorded_at
        stream = out.add_stream(codec, rate=48_000 if codec == "libopus" else rate, layout="mono")
        frame = av.AudioFrame.from_ndarray((np.clip(samples, -1, 1) * 32767).astype(np.int16)[None, :], format="s16", layout="mono")
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="mono", rate=stream.codec_context.sample_rate)
        for f in resampler.resample(frame) + resampler.resample(None):
            for p in stream.encode(f):
                out.mux(p)
        for p in stream.encode(None):
            out.mux(p)
    return buf.getvalue()


def video_bytes(
    seconds: float = 3.0,
    fps: int = 10,
    size: tuple[int, int] = (160, 120),
    cues: list[tuple[float, float, str]] | None = None,
    with_audio: bool = True,
    recorded_at: str | None = None,
) -> bytes:
    """H.264 MP4 of a moving gradient, optional AAC tone track and a mov_text subtitle track.

    `cues` are (start_s, end_s, text); `recorded_at` (ISO 8601) is the camera's `creation_time`."""
    w, h = size
    buf = io.BytesIO()
    out = av.open(buf, mode="w", format="mp4")
    if recorded_at:
        out.metadata["creation_time"] = recorded_at
    v = out.add_stream("libx264", rate=fps)
    v.width, v.height, v.pix_fmt = w, h, "yuv420p"
    v.options = {"preset": "ultrafast", "tune": "zerolatency"}
    a = None
    if with_audio:
        a = out.add_stream("aac", rate=22_050, layout="mono")
    s = None
    if cues:
        s = out.add_stream("mov_text")
        s.codec_context.time_base = Fraction(1, 1000)
        s.codec_context.subtitle_header = _MOV_TEXT_HEADER
    yy, xx = np.mgrid[0:h, 0:w]
    for i in range(int(seconds * fps)):
        shift = i * 4
        img = np.stack([(xx + shift) % 256, (yy + 2 * shift) % 256, np.full_like(xx, (i * 9) % 256)], axis=-1).astype(np.uint8)
        for p in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
            out.mux(p)
    for p in v.encode(None):
        out.mux(p)
    if a is not None:
        pcm = (tone(seconds, 330.0, 22_050) * 32767).astype(np.int16)
        resampler = av.AudioResampler(format=a.codec_context.format.name, layout="mono", rate=22_050)
        for start in range(0, len(pcm), 1024):
            frame = av.AudioFrame.from_ndarray(pcm[None, start : start + 1024], format="s16", layout="mono")
            frame.sample_rate = 22_050
            for f in resampler.resample(frame):
                for p in a.encode(f):
                    out.mux(p)
        for p in a.encode(None):
            out.mux(p)
    for start, end, text in cues or []:
        body = text.encode("utf-8")
        pkt = av.Packet(len(body).to_bytes(2, "big") + body)  # mov_text sample: u16 length + UTF-8
        pkt.stream = s
        pkt.time_base = Fraction(1, 1000)
        pkt.pts = pkt.dts = int(start * 1000)
        pkt.duration = int((end - start) * 1000)
        out.mux(pkt)
    out.close()
    return buf.getvalue()
