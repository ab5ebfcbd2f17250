"""What a batch's metrics are compared with: a robust summary of a metric's values (the
previous batch's, or a release's), small enough to keep in a release manifest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

# What a curator looks at first: resolution, sharpness, exposure, loudness, silence, length.
MAIN_METRICS = ("width", "height", "blur_var", "brightness", "loudness_lufs", "silence_ratio", "snr_db", "duration_s", "text_chars")

Summary = Mapping[str, float]  # n, p10, median, p90, spread (1.4826 × MAD)


def summary(values: Sequence[float]) -> dict[str, float]:
    v = np.asarray(values, dtype=np.float64)
    median = float(np.median(v))
    return {
        "n": float(len(v)), "p10": round(float(np.percentile(v, 10)), 6), "median": round(median, 6),
        "p90": round(float(np.percentile(v, 90)), 6), "spread": round(1.4826 * float(np.median(np.abs(v - median))), 6),
    }  # fmt: skip


def as_summary(values: Sequence[float] | Summary) -> dict[str, float]:
    """A summary as it is, or the summary of raw values."""
    return dict(values) if isinstance(values, Mapping) else summary(values)
