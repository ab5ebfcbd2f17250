from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from tessera.core.decode import DecodeFailure
from tessera.core.decode.audio import (
    CANONICAL_AUDIO,
    CANONICAL_RATE,
    AudioClip,
    AudioStream,
    Measures,
    audio_metrics,
    encode_audio,
)
from tessera.core.decode.container import open_container
from tessera.core.decode.structure import Cut, as_truncation, cut_of, recovered, recovery
from tessera.core.ops.base import OpContext, RowOp, register_op
from tessera.core.records import Reason, Result, Sample
from tessera.core.windows import cut, window


@register_op("audio.decode")
@dataclass(frozen=True, slots=True)
class AudioDecode(RowOp):
    """Fully decode the audio (PyAV) straight to the canonical 16 kHz mono track (what
    `audio.canonical` would make, as FLAC), so the stream is decoded once; record duration,
    clipping (on the source samples), silence and loudness (on the canonical track), and the
    source's rate and channels. Shorter than `min_seconds`: EMPTY. Longer than `window_over_s`:
    cut into windows of `window_s` (core/windows.py), decoded as they stream by, so memory holds
    one window; past `max_seconds` (a bogus header, or more than anyone should window): TOO_LONG.
    A file cut short (core/decode/structure.py; or shorter than its exact declared length) keeps
    what decodes when that is at least `min_recovered_share` of it, with `recovered_share` on the
    row; less: TRUNCATED."""

    window_over_s: float = 600.0
    window_s: float = 30.0
    max_seconds: float = 14400.0
    min_seconds: float = 0.1
    min_recovered_share: float = 0.5
    modality = "audio"

    def apply(self, samples: list[Sample], ctx: OpContext | None = None) -> list[Result]:
        return [out for s in samples for out in (self.decode(s) if self.applies_to(s) else [s])]

    def __call__(self, s: Sample) -> Result:
        return self.decode(s)[0]

    def decode(self, s: Sample) -> list[Result]:
        cut = cut_of(s.media["audio"])
        try:
            with open_container(s.media["audio"], "audio") as container:
                stream = AudioStream(container, max_seconds=self.max_seconds, rate=CANONICAL_RATE)
                blocks = stream.blocks()
                head, held = [], 0
                for block in blocks:  # up to the windowing threshold, the track is kept whole
                    head.append(block)
                    held += len(block)
                    if held > self.window_over_s * CANONICAL_RATE:
                        parent, *windows = self.windowed(s, stream, itertools.chain(head, blocks))
                        return [parent.with_metrics(**self.recovery(stream, cut)), *windows]
                whole = np.concatenate(head) if head else np.zeros(0, np.float32)
                clip = stream.clip(whole)
                kept = self.recovery(stream, cut)
        except DecodeFailure as exc:
            failure = as_truncation(exc, cut)
            return [s.quarantine(failure.reason, failure.detail)]
        if clip.duration < self.min_seconds:
            return [s.quarantine(Reason.EMPTY, f"audio lasts {clip.duration:.4f} s (< {self.min_seconds:g} s): nothing to hear or align")]
        return [_canonical(s, clip).with_metrics(**kept)]

    def recovery(self, stream: AudioStream, cut: Cut | None) -> dict[str, float]:
        """`recovered_share` for a file cut short or broken part way (TRUNCATED under `min_recovered_share`)."""
        return recovery(recovered(stream.recovered_share(cut), self.min_recovered_share, "audio", cut.detail if cut else "", stream.broken))

    def windowed(self, s: Sample, stream: AudioStream, blocks: itertools.chain) -> list[Result]:
        """The parent with whole-track metrics, then its windows; a last remainder shorter than
        `min_seconds` joins the window before it."""
        rate = CANONICAL_RATE
        children: list[Sample] = []
        measured: list[Measures] = []
        pending: np.ndarray | None = None
        clipped_before = 0

        def emit(samples: np.ndarray) -> None:
            nonlocal clipped_before
            share = (stream.clipped - clipped_before) / max(len(samples) * stream.src_rate / rate, 1)
            clipped_before = stream.clipped
            clip = AudioClip(samples, rate, stream.src_rate, stream.src_channels, min(1.0, share))
            measured.append(Measures.of(samples, rate))
            start = children[-1].metrics["window_end_s"] if children else 0.0
            span = (start, start + clip.duration)
            metrics = {**audio_metrics(clip, measured[-1]), "audio_rate": float(rate)}
            children.append(window(s, "audio", len(children), span, {"audio": encode_audio(samples, rate)}, {"audio": CANONICAL_AUDIO}, metrics))

        for samples in cut(blocks, rate, self.window_s):
            if pending is not None and len(samples) < self.min_seconds * rate:
                pending = np.concatenate([pending, samples])
                continue
            if pending is not None:
                emit(pending)
            pending = samples
        if pending is not None:
            emit(pending)
        whole = stream.clip(np.zeros(0, np.float32))
        parent = s.evolve(media={m: v for m, v in s.media.items() if m != "audio"}).with_metrics(
            **audio_metrics(whole, Measures.joined(measured)), windows=float(len(children))
        )
        return [parent, *children]


def _canonical(s: Sample, clip: AudioClip) -> Sample:
    flac = encode_audio(clip.samples, CANONICAL_RATE)
    return s.evolve(media={**s.media, "audio": flac}, formats={**s.formats, "audio": CANONICAL_AUDIO}).with_metrics(
        **audio_metrics(clip), audio_rate=float(CANONICAL_RATE)
    )
