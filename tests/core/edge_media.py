"""Seeded edge media for the operator chain: short videos and audio (0.1-4 s), with and without
an audio track, a track that ends before the pictures, 0, 1 or many cues (at the start, across
the end, past it) embedded (mov_text in MP4, WebVTT in MKV) or beside the file (SRT, WebVTT),
mono to 5.1, 8 kHz to 96 kHz, and sound whose activity comes and goes (a pure tone never
changes, so it hides every bug of the code that lines activity up with cues).

Every case is legal media: each must land or be set aside with a reason, never OP_ERROR."""

from __future__ import annotations

import fractions
import io
from dataclasses import dataclass

import av
import numpy as np

from tests.core.conftest import _ASS_HEADER, build_sample, mux_cue, photo, wav_bytes

RATES = (8000, 11025, 16000, 22050, 44100, 48000, 96000)
SIGNALS = ("bursts", "tone", "noise", "silence")


@dataclass(frozen=True, slots=True)
class Case:
    kind: str  # video | audio
    seconds: float
    rate: int
    channels: int
    signal: str
    cues: tuple[tuple[float, float, str], ...]
    carrier: str  # embedded | srt | vtt (unused without cues)
    container: str  # mp4 | mkv (video); wav | flac (audio)
    audio_seconds: float = 0.0  # video: its track's length (0: no track); may end before the pictures
    fps: int = 10
    seed: int = 0

    @property
    def name(self) -> str:
        if self.kind == "image":  # rate: the shorter side in pixels; channels: L, LA, RGB, RGBA; fps: aspect
            return f"image-{self.container}-{self.rate}px-{self.channels}ch-1to{self.fps}-{self.signal}-s{self.seed}"
        track = f"a{self.audio_seconds:.2f}s" if self.kind == "video" and self.audio_seconds else "noaudio" if self.kind == "video" else ""
        return (
            f"{self.kind}-{self.container}-{self.seconds:.2f}s-{track}{self.rate}Hz-{self.channels}ch-{self.signal}"
            f"-{len(self.cues)}cues-{self.carrier}-s{self.seed}"
        )


def cases(seed: int, n: int) -> list[Case]:
    """`n` cases drawn from `seed` (the same list on every machine)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        kind = ("video", "audio", "video", "audio", "image")[i % 5]
        if kind == "image":
            out.append(Case(kind="image", seconds=0.0, rate=int(rng.choice([32, 33, 48, 97, 160, 301])), channels=int(rng.choice([1, 2, 3, 4])),
                            signal=str(rng.choice(["photo", "flat", "noise"])), cues=(), carrier="", container=str(rng.choice(["png", "jpeg", "webp", "gif"])),
                            fps=int(rng.integers(1, 4)), seed=seed * 100_000 + i))  # fmt: skip
            continue
        seconds = float(np.round(rng.choice([0.1, 0.15, 0.25, 0.4, 0.6, 1.0, 1.5, 1.93, 2.0, 2.5, 3.2, 4.0]), 2))
        rate = int(rng.choice(RATES))
        channels = int(rng.choice([1, 1, 2, 6] if kind == "video" or rate <= 48000 else [1, 2]))
        audio_seconds = 0.0
        if kind == "video":
            audio_seconds = float(rng.choice([0.0, seconds, seconds, round(seconds * float(rng.uniform(0.5, 0.97)), 2)]))
        out.append(
            Case(
                kind=kind, seconds=seconds, rate=rate, channels=channels, signal=str(rng.choice(SIGNALS, p=[0.55, 0.15, 0.15, 0.15])),
                cues=_cues(rng, seconds), carrier=str(rng.choice(["embedded", "srt", "vtt"] if kind == "video" else ["srt", "vtt"])),
                container=str(rng.choice(["mp4", "mkv"] if kind == "video" else ["wav", "flac"])), audio_seconds=audio_seconds,
                fps=int(rng.choice([1, 5, 10, 25, 30])), seed=seed * 100_000 + i,
            )
        )  # fmt: skip
    return out


def _cues(rng: np.random.Generator, seconds: float) -> tuple[tuple[float, float, str], ...]:
    """None, one, or many: from the very start, inside, across the end and wholly past it."""
    count = int(rng.choice([0, 1, 1, 2, 5]))
    cues = []
    for k in range(count):
        where = rng.choice(["start", "inside", "across", "past"]) if count > 1 else rng.choice(["inside", "across", "whole"])
        if where == "start":
            start, end = 0.0, min(seconds, 0.05 + seconds * 0.3)
        elif where == "inside":
            start = float(rng.uniform(0, seconds * 0.8))
            end = start + float(rng.uniform(0.05, max(0.06, seconds - start)))
        elif where == "across":
            start, end = seconds * float(rng.uniform(0.3, 0.99)), seconds + float(rng.uniform(0.0, 2.0))
        elif where == "whole":
            start, end = 0.0, seconds
        else:
            start = seconds + float(rng.uniform(0.1, 3.0))
            end = start + 1.0
        start, end = round(start, 3), round(max(end, start + 0.05), 3)
        cues.append((start, end, f"cue {k} of the take"))
    return tuple(sorted(cues))


def signal(case: Case, seconds: float) -> np.ndarray:
    """(samples, channels) float32 in [-1, 1]: bursts of chirps between pauses, a steady tone,
    white noise or digital silence; channels differ in gain."""
    rng = np.random.default_rng(case.seed)
    n = max(1, int(round(seconds * case.rate)))
    t = np.arange(n) / case.rate
    if case.signal == "silence":
        x = np.zeros(n)
    elif case.signal == "noise":
        x = 0.2 * rng.standard_normal(n)
    elif case.signal == "tone":
        x = 0.3 * np.sin(2 * np.pi * min(440.0, case.rate / 4) * t)
    else:  # bursts: activity on and off at random, 40-400 ms at a time
        x = np.zeros(n)
        at, on = 0, bool(rng.integers(2))
        while at < n:
            span = int(rng.uniform(0.04, 0.4) * case.rate)
            if on:
                seg = t[at : at + span]
                x[at : at + span] = 0.4 * np.sin(2 * np.pi * (200 + 600 * (seg - seg[0])) * seg)
            at, on = at + span, not on
    gains = np.linspace(1.0, 0.6, case.channels)
    return np.clip(x[:, None] * gains[None, :], -1, 1).astype(np.float32)


def _layout(channels: int) -> str:
    return {1: "mono", 2: "stereo", 6: "5.1"}[channels]


def srt(cues: tuple[tuple[float, float, str], ...]) -> bytes:
    stamp = lambda s: f"{int(s // 3600):02d}:{int(s % 3600 // 60):02d}:{int(s % 60):02d},{int(round(s % 1 * 1000)) % 1000:03d}"  # noqa: E731
    return "".join(f"{i}\n{stamp(a)} --> {stamp(b)}\n{text}\n\n" for i, (a, b, text) in enumerate(cues, 1)).encode()


def vtt(cues: tuple[tuple[float, float, str], ...]) -> bytes:
    stamp = lambda s: f"{int(s // 3600):02d}:{int(s % 3600 // 60):02d}:{s % 60:06.3f}"  # noqa: E731
    return ("WEBVTT\n\n" + "".join(f"{stamp(a)} --> {stamp(b)}\n{text}\n\n" for a, b, text in cues)).encode()


def encode_audio_file(case: Case) -> bytes:
    x = signal(case, case.seconds)
    if case.container == "wav":
        return wav_bytes(x, case.rate)
    buf = io.BytesIO()
    with av.open(buf, "w", format="flac") as c:
        s = c.add_stream("flac", rate=case.rate, layout=_layout(case.channels))
        _write_audio(c, s, x, case.rate)
    return buf.getvalue()


def _write_audio(c: av.container.OutputContainer, stream: av.stream.Stream, x: np.ndarray, rate: int) -> None:
    layout = _layout(x.shape[1])
    resampler = av.AudioResampler(format=stream.codec_context.format.name, layout=layout, rate=stream.codec_context.sample_rate)
    pcm = np.ascontiguousarray(x.T)
    for k in range(0, pcm.shape[1], 1024):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm[:, k : k + 1024]), format="fltp", layout=layout)
        frame.sample_rate, frame.pts = rate, k
        for f in resampler.resample(frame):
            for p in stream.encode(f):
                c.mux(p)
    for f in resampler.resample(None):
        for p in stream.encode(f):
            c.mux(p)
    for p in stream.encode(None):
        c.mux(p)


def encode_video_file(case: Case) -> bytes:
    """H.264 (MP4 or MKV) of a moving photo-like gradient with flashes, an AAC track of
    `audio_seconds`, and the cues as mov_text (MP4) or WebVTT (MKV) when they are embedded."""
    buf = io.BytesIO()
    w, h = 32, 24
    rng = np.random.default_rng(case.seed + 1)
    with av.open(buf, "w", format="mp4" if case.container == "mp4" else "matroska") as c:
        vs = c.add_stream("libx264", rate=case.fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.options = {"preset": "ultrafast", "tune": "zerolatency"}
        rate = min(case.rate, 96000)
        a = c.add_stream("aac", rate=rate, layout=_layout(case.channels)) if case.audio_seconds else None
        ss = None
        if case.cues and case.carrier == "embedded":
            ss = c.add_stream("mov_text" if case.container == "mp4" else "webvtt")
            ss.codec_context.subtitle_header = _ASS_HEADER
            ss.time_base = ss.codec_context.time_base = fractions.Fraction(1, 1000)
        yy, xx = np.mgrid[0:h, 0:w]
        for i in range(max(1, int(round(case.seconds * case.fps)))):
            flash = 120 if rng.random() < 0.2 else 0
            img = np.stack([(xx * 7 + i * 9) % 256, (yy * 9 + i * 5) % 256, np.full_like(xx, (i * 31 + flash) % 256)], axis=-1).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            for p in vs.encode(frame):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
        if a is not None:
            _write_audio(c, a, signal(case, case.audio_seconds), rate)
        for start, end, text in case.cues if ss is not None else ():
            mux_cue(c, ss, start, end, text)
    return buf.getvalue()


def encode_image_file(case: Case) -> bytes:
    """A picture `rate` px on its shorter side, 1:`fps` aspect, in L/LA/RGB/RGBA (JPEG: L or RGB):
    a real photo, a flat colour or noise."""
    from PIL import Image

    rng = np.random.default_rng(case.seed)
    w, h = case.rate * case.fps, case.rate
    if case.signal == "photo":
        im = photo("astronaut", (w, h))
    elif case.signal == "flat":
        im = Image.new("RGB", (w, h), tuple(int(v) for v in rng.integers(0, 256, 3)))
    else:
        im = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[case.channels]
    if case.container == "jpeg":
        mode = "L" if mode in ("L", "LA") else "RGB"
    buf = io.BytesIO()
    im.convert(mode).save(buf, format=case.container.upper())
    return buf.getvalue()


def files(case: Case) -> dict[str, bytes]:
    """modality → file bytes, as a drop would pair them by stem (a picture with its caption)."""
    if case.kind == "image":
        return {"image": encode_image_file(case), "text": f"a {case.signal} picture, case {case.seed}".encode()}
    parts = {case.kind: encode_video_file(case) if case.kind == "video" else encode_audio_file(case)}
    if case.cues and case.carrier in ("srt", "vtt"):
        parts["subtitles"] = srt(case.cues) if case.carrier == "srt" else vtt(case.cues)
    return parts


def sample(case: Case, batch: str = "edge"):
    """The raw Sample discovery makes of the case's files (source: the case's name)."""
    s = build_sample(batch, **files(case))
    return s.evolve(source=f'["{case.name}"]')
