from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tessera.core.decode.audio import CANONICAL_AUDIO, CANONICAL_RATE, canonical_track, encode_audio
from tessera.core.ops.base import RowOp, register_op
from tessera.core.records import Quarantined, Reason, Result, Sample

START = "paired_audio_start_s"


@register_op("audio.place")
@dataclass(frozen=True, slots=True)
class AudioPlace(RowOp):
    """A recording that joined a video by capture time (raw's time pairing, core/pairing.py) put
    on the video's timeline: a late start is padded with silence, an early one loses what it
    heard before the pictures began; `paired_audio_start_s` stays on the row (where it came from),
    `duration_s` becomes the placed track's. A track that ends before the pictures begin is
    MISALIGNED. Windows of a long video carry their own clip's track and are left as they are."""

    modality = "audio"

    def applies_to(self, s: Sample) -> bool:
        return START in s.metrics and "video" in s.modalities and s.formats.get("audio") == CANONICAL_AUDIO and "window_start_s" not in s.metrics

    def __call__(self, s: Sample) -> Result:
        clip = canonical_track(s)
        if isinstance(clip, Quarantined):
            return clip
        shift = int(round(s.metrics[START] * clip.rate))
        if shift < 0 and -shift >= len(clip.samples):
            return s.quarantine(Reason.MISALIGNED, f"the paired audio ends {-s.metrics[START] - len(clip.samples) / clip.rate:.2f} s before the video begins")
        placed = np.concatenate([np.zeros(shift, np.float32), clip.samples]) if shift > 0 else clip.samples[-shift:]
        return s.evolve(media={**s.media, "audio": encode_audio(placed, CANONICAL_RATE)}).with_metrics(duration_s=len(placed) / clip.rate)
