"""Audio decoding with PyAV, streamed frame by frame under a duration limit."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import av
import numpy as np
import soundfile

from tessera.core.decode import DecodeFailure, open_media
from tessera.core.decode.container import open_container
from tessera.core.decode.loudness import block_powers, frame_levels, integrated, snr_of_levels
from tessera.core.decode.structure import Cut
from tessera.core.records import Media, Quarantined, Reason, Sample

CANONICAL_RATE = 16_000
CANONICAL_AUDIO = "flac:16k-mono"  # formats["audio"] of canonical audio: 16 kHz mono 16-bit FLAC
# Containers whose headers state a track's exact length (FLAC's STREAMINFO, an MP4 index); FFmpeg
# estimates the others' (MP3, Ogg) or clamps it to the bytes present (WAV: see core/decode/structure.py)
EXACT_LENGTH = frozenset({"flac", "mov,mp4,m4a,3gp,3g2,mj2"})


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


def decode_audio(data: Media, *, max_seconds: float, rate: int | None = None) -> AudioClip:
    """Decode the first audio stream of `data` to mono float32, resampled to `rate` if given."""
    with open_container(data, "audio") as container:
        return decode_audio_stream(container, max_seconds=max_seconds, rate=rate)


def decode_audio_stream(container: av.container.InputContainer, *, max_seconds: float, rate: int | None) -> AudioClip:
    """The whole first audio stream as one clip (see `AudioStream`)."""
    stream = AudioStream(container, max_seconds=max_seconds, rate=rate)
    blocks = list(stream.blocks())
    stream.whole()
    samples = np.concatenate(blocks).astype(np.float32) if blocks else np.zeros(0, np.float32)
    if samples.size == 0:
        raise DecodeFailure(Reason.EMPTY, "audio stream decodes to no samples")
    return stream.clip(samples)


class AudioStream:
    """One pass over the first audio stream: every frame is measured for clipping as decoded (at
    the source's own sample format, rate and channels), then downmixed and resampled to mono
    float32 at `rate` (the source rate when None) and handed out block by block, so a caller
    may keep as little of a long track as it needs. Mono is the mean of the channels (never
    their sum, which clips correlated stereo). Past `max_seconds`: TOO_LONG."""

    def __init__(self, container: av.container.InputContainer, *, max_seconds: float, rate: int | None) -> None:
        if not container.streams.audio:
            raise DecodeFailure(Reason.NO_STREAM, "container has no audio stream")
        self.container = container
        self.stream = container.streams.audio[0]
        self.src_rate = int(self.stream.codec_context.sample_rate or 0)
        self.src_channels = int(self.stream.codec_context.channels or 0)
        self.rate = rate or self.src_rate or CANONICAL_RATE
        self.max_seconds = max_seconds
        self.clipped = 0  # source instants at full scale
        self.total = 0  # samples handed out, at `rate`
        self.broken = ""  # why decoding stopped before the end, when it did
        self._resampler: av.AudioResampler | None = None
        self._limit = int(max_seconds * self.rate)

    def blocks(self) -> Iterator[np.ndarray]:
        """The stream's samples, block by block, demuxing the stream alone."""
        try:
            for frame in self.container.decode(self.stream):
                yield from self._push(frame)
            yield from self.flush()
        except DecodeFailure:
            raise
        except (av.error.FFmpegError, ValueError, EOFError) as exc:
            self._stopped(exc)

    def packet(self, packet: av.Packet) -> list[np.ndarray]:
        """The blocks of one packet a caller demuxed with other streams (a video's frames, read in
        the same pass); none once the stream has stopped decoding."""
        if self.broken:
            return []
        try:
            return [block for frame in packet.decode() for block in self._push(frame)]
        except DecodeFailure:
            raise
        except (av.error.FFmpegError, ValueError, EOFError) as exc:
            self._stopped(exc)
            return []

    def flush(self) -> Iterator[np.ndarray]:
        """What the resampler still holds, after the last packet."""
        if self._resampler is not None and not self.broken:
            yield from self._take(self._resampler.resample(None))

    def _push(self, frame: av.AudioFrame) -> Iterator[np.ndarray]:
        if self._resampler is None:  # the first frame tells the real layout (headers can lie)
            self._resampler = av.AudioResampler(format="fltp", layout=frame.layout.name, rate=self.rate)
        self.clipped += _clipped_instants(frame)
        yield from self._take(self._resampler.resample(frame))
        if self.total > self._limit:
            raise DecodeFailure(Reason.TOO_LONG, f"audio longer than the {self.max_seconds:g} s limit")

    def _take(self, frames: list[av.AudioFrame]) -> Iterator[np.ndarray]:
        for out in frames:  # fltp: one row per channel; FFmpeg's own downmix would sum them
            self.total += out.samples
            yield np.clip(out.to_ndarray().reshape(out.layout.nb_channels, -1).mean(axis=0), -1.0, 1.0).astype(np.float32)

    def _stopped(self, exc: Exception) -> None:
        detail = f"audio stream stops decoding after {self.total / self.rate:.2f} s: {exc}"
        if not self.total:  # nothing decodes: a cut if the header promised a length, else damage
            raise DecodeFailure(Reason.TRUNCATED if self.declared_seconds() else Reason.CORRUPT, detail) from None
        self.broken = detail  # what decoded so far is handed out; `whole` or `recovered_share` judge it

    def whole(self) -> None:
        """TRUNCATED when the stream stopped decoding part way (for callers that take no less)."""
        if self.broken:
            raise DecodeFailure(Reason.TRUNCATED, self.broken)

    def declared_seconds(self) -> float:
        """The track's length as its header states it exactly (0.0 where FFmpeg estimates it)."""
        stream = self.stream
        exact = stream.duration and self.container.format.name in EXACT_LENGTH
        return float(stream.duration * stream.time_base) if exact else 0.0

    def recovered_share(self, cut: Cut | None) -> float:
        """The share of the declared track that decoded: 1.0 for a whole file; for a file cut
        short or that stopped decoding, what decoded over what its header states (a WAV's data
        chunk: the bytes present); 0.0 where that is unknown; 1.0 when only metadata after the
        samples is cut."""
        declared = self.declared_seconds()
        damaged = cut is not None or bool(self.broken)
        if declared:
            share = min(1.0, self.total / self.rate / declared)
            return share if damaged or share < 0.98 else 1.0  # encoder priming and padding: not a cut
        if cut is not None and cut.in_media:
            return cut.share
        return 0.0 if self.broken else 1.0  # a cut in metadata after the samples loses no sound

    def clip(self, samples: np.ndarray) -> AudioClip:
        """`samples` (some or all of what was handed out) as a clip, with the clipping share so far."""
        source_instants = self.total * (self.src_rate / self.rate) if self.src_rate else self.total
        return AudioClip(samples, self.rate, self.src_rate, self.src_channels, min(1.0, self.clipped / max(source_instants, 1)))


def _clipped_instants(frame: av.AudioFrame) -> int:
    """Instants of a decoded frame where any channel is at (or within 0.1 % of) full scale."""
    a = frame.to_ndarray()
    channels = frame.layout.nb_channels
    per_channel = a.reshape(channels, -1) if frame.format.is_planar else a.reshape(-1, channels).T
    if a.dtype.kind == "f":
        peak = np.abs(per_channel)
        full = 0.999
    elif a.dtype.kind == "u":  # unsigned 8-bit: silence is 128
        peak = np.abs(per_channel.astype(np.int16) - 128)
        full = 127 * 0.999
    else:
        peak = np.abs(per_channel.astype(np.int64))
        full = np.iinfo(a.dtype).max * 0.999
    return int(np.count_nonzero(peak.max(axis=0) >= full))


@dataclass(frozen=True, slots=True)
class Measures:
    """What the metrics of a track are computed from; several windows' measures concatenate
    into the whole track's (`joined`), so a windowed recording is measured without its samples."""

    levels: np.ndarray  # 20 ms frame levels, dB
    powers: np.ndarray  # BS.1770 block powers (core/decode/loudness.py)
    energy: float  # sum of squared samples
    samples: int
    rate: int

    @classmethod
    def of(cls, x: np.ndarray, rate: int) -> Measures:
        return cls(frame_levels(x, rate, 0.02), block_powers(x, rate), float(np.sum(np.square(x, dtype=np.float64))), len(x), rate)

    @classmethod
    def joined(cls, parts: list[Measures]) -> Measures:
        return cls(np.concatenate([p.levels for p in parts]), np.concatenate([p.powers for p in parts]), sum(p.energy for p in parts), sum(p.samples for p in parts), parts[0].rate)

    def metrics(self, silence_dbfs: float = -50.0) -> dict[str, float]:
        """Duration, silence share (20 ms frames under `silence_dbfs`), RMS loudness (dBFS),
        integrated loudness (LUFS) and, where the track has a floor to measure, SNR (dB)."""
        out = {
            "duration_s": self.samples / self.rate if self.rate else 0.0,
            "silence_ratio": float(np.mean(self.levels < silence_dbfs)) if len(self.levels) else 1.0,
            "loudness_dbfs": max(10 * float(np.log10(self.energy / self.samples + 1e-24)), -240.0) if self.samples else -240.0,
            "loudness_lufs": integrated(self.powers),
        }
        snr = snr_of_levels(self.levels)
        return out | ({"snr_db": snr} if snr is not None else {})


def audio_metrics(clip: AudioClip, measures: Measures | None = None) -> dict[str, float]:
    """The track's measures (see `Measures.metrics`) and its source's rate, channels, clipping."""
    m = measures or Measures.of(clip.samples, clip.rate)
    return {**m.metrics(), "sample_rate": float(clip.source_rate), "channels": float(clip.source_channels), "clipping_ratio": clip.clipped_share}


def encode_audio(samples: np.ndarray, rate: int = CANONICAL_RATE) -> bytes:
    """Canonical audio bytes: 16-bit mono FLAC (lossless, so the samples are exactly those of
    16-bit PCM, at about a third to a half of WAV's bytes); deterministic for the same samples."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2")
    buf = io.BytesIO()
    soundfile.write(buf, pcm, rate, format="FLAC", subtype="PCM_16")
    return buf.getvalue()


def read_audio(data: Media) -> AudioClip:
    """Inverse of `encode_audio` (also reads 16-bit WAV), without resampling."""
    with open_media(data) as stream:
        pcm, rate = soundfile.read(stream, dtype="int16", always_2d=True)
    channels = pcm.shape[1]
    clipped = float(np.mean(np.abs(pcm).max(axis=1) >= 32_735)) if len(pcm) else 0.0
    return AudioClip((pcm.mean(axis=1) / 32767.0).astype(np.float32), rate, rate, channels, clipped)


def canonical_track(s: Sample) -> AudioClip | Quarantined:
    """A sample's canonical track, decoded; CORRUPT when its stored FLAC does not read."""
    try:
        return read_audio(s.media["audio"])
    except (soundfile.LibsndfileError, RuntimeError, ValueError) as exc:
        return s.quarantine(Reason.CORRUPT, f"canonical audio unreadable: {exc}")
