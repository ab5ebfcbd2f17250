from __future__ import annotations

from dataclasses import dataclass

from core.ops.base import RowOp, register_op
from core.records import Reason, Result, Sample


@register_op("pair.check")
@dataclass(frozen=True, slots=True)
class PairCheck(RowOp):
    """A sample must carry content of its own: timed cues with no media to time them against are UNPAIRED."""

    def __call__(self, s: Sample) -> Result:
        timed = {"audio", "video"} & set(s.modalities)
        if s.segments and not timed and s.text is None:
            return s.quarantine(Reason.UNPAIRED, f"{len(s.segments)} subtitle cues but no audio or video to align them with")
        return s
