"""Audio decoding with PyAV, streamed frame by frame under a duration limit."""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass

import av
import numpy as np

from core.decode import DecodeFailure
from core.records import Reason

CANONICAL_RATE = 16_000


@dataclass(frozen=True, slots=True)
class AudioClip:
    """Mono float32 samples in [-1, 1] at `rate` Hz; `source_*` describe the input stream."""

    samples: np.ndarray
    rate: int
    source_rate: int
    source_channels: int
    clipped_share: float = 0.0  # share of instants where any source channel is at full scale

    @property
    def duration(self) -> float:
        return len(self.samples) / self.rate if self.rate else 0.0


def decode_audio(data: bytes, *, max_seconds: float, rate: int | None = None) -> AudioClip:
    """Decode the first audio stream of `data` to mono float32, resampled to `rate` if given."""
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise DecodeFailure(Reason.CORRUPT, f"not a readable audio container: {exc}") from None
    with container:
        return decode_audio_stream(container, max_seconds=max_seconds, rate=rate)


def decode_audio_stream(container: av.container.InputContainer, *, max_seconds: float, rate: int | None) -> AudioClip:
    """Mono is the mean of the channels (never their sum, which clips correlated stereo)."""
    if not container.streams.audio:
        raise DecodeFailure(Reason.NO_STREAM, "container has no audio stream")
    stream = container.streams.audio[0]
    src_rate = int(stream.codec_context.sample_rate or 0)
    src_channels = int(stream.codec_context.channels or 0)
    out_rate = rate or src_rate or CANONICAL_RATE
    resampler: av.AudioResampler | None = None
    chunks: list[np.ndarray] = []
    clipped = total = 0
    limit = int(max_seconds * out_rate)

    def take(frames: list[av.AudioFrame]) -> None:
        nonlocal clipped, total
        for out in frames:
            planes = out.to_ndarray().reshape(out.layout.nb_channels, -1)  # fltp: one row per channel
            clipped += int(np.count_nonzero(np.abs(planes).max(axis=0) >= 0.999))
            chunks.append(planes.mean(axis=0))
            total += planes.shape[1]

    try:
        for frame in container.decode(stream):
            if resampler is None:  # the first frame tells the real layout (headers can lie)
                resampler = av.AudioResampler(format="fltp", layout=frame.layout.name, rate=out_rate)
            take(resampler.resample(frame))
            if total > limit:
                raise DecodeFailure(Reason.TOO_LONG, f"audio longer than the {max_seconds:g} s limit")
        if resampler is not None:
            take(resampler.resample(None))
    except DecodeFailure:
        raise
    except (av.error.FFmpegError, ValueError, EOFError) as exc:
        reason = Reason.TRUNCATED if chunks else Reason.CORRUPT
        raise DecodeFailure(reason, f"audio stream stops decoding after {total / out_rate:.2f} s: {exc}") from None
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if samples.size == 0:
        raise DecodeFailure(Reason.EMPTY, "audio stream decodes to no samples")
    return AudioClip(np.clip(samples, -1.0, 1.0), out_rate, src_rate, src_channels, clipped / samples.size)


def resample_mono(samples: np.ndarray, rate: int, out_rate: int = CANONICAL_RATE, block: int = 1 << 16) -> np.ndarray:
    """Mono float32 samples at `rate` → `out_rate` (FFmpeg's resampler, block by block): the
    canonical track from a clip already decoded at its own rate, without decoding it again."""
    if rate == out_rate:
        return samples.astype(np.float32)
    resampler = av.AudioResampler(format="fltp", layout="mono", rate=out_rate)
    out: list[np.ndarray] = []
    for i in range(0, len(samples), block):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[i : i + block], dtype=np.float32)[None, :], format="fltp", layout="mono")
        frame.sample_rate = rate
        out += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    out += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.clip(np.concatenate(out), -1.0, 1.0).astype(np.float32) if out else np.zeros(0, np.float32)


def audio_metrics(clip: AudioClip, silence_dbfs: float = -50.0) -> dict[str, float]:
    """Duration, silence share (20 ms windows under `silence_dbfs`), clipping share, loudness."""
    x = clip.samples.astype(np.float64)
    win = max(1, clip.rate // 50)
    n = len(x) // win
    if n:
        rms = np.sqrt(np.mean(x[: n * win].reshape(n, win) ** 2, axis=1))
        silence = float(np.mean(20 * np.log10(rms + 1e-12) < silence_dbfs))
    else:
        silence = 1.0
    loud = float(20 * np.log10(np.sqrt(np.mean(x**2)) + 1e-12)) if len(x) else -240.0
    return {
        "duration_s": clip.duration,
        "sample_rate": float(clip.source_rate),
        "channels": float(clip.source_channels),
        "silence_ratio": silence,
        "clipping_ratio": clip.clipped_share,
        "loudness_dbfs": max(loud, -240.0),
    }


def encode_wav(samples: np.ndarray, rate: int = CANONICAL_RATE) -> bytes:
    """16-bit PCM mono WAV; deterministic for the same samples."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def read_wav(data: bytes) -> AudioClip:
    """Inverse of `encode_wav` for canonical audio (16-bit PCM mono)."""
    with wave.open(io.BytesIO(data), "rb") as w:
        rate, channels = w.getframerate(), w.getnchannels()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    frames = pcm.reshape(-1, channels)
    clipped = float(np.mean(np.abs(frames).max(axis=1) >= 32_735)) if len(frames) else 0.0
    return AudioClip((frames.mean(axis=1) / 32767.0).astype(np.float32), rate, rate, channels, clipped)
