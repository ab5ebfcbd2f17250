"""Loudness (ITU-R BS.1770-4) and a signal-to-noise estimate of a mono track, vectorised.

BS.1770's K-weighting is a high shelf (+4 dB above ~1.7 kHz) then a high-pass (~38 Hz); its
biquads are derived here for the track's own rate from the analogue prototype (the standard
tabulates them at 48 kHz only). Integrated loudness gates 400 ms blocks (75 % overlap): an
absolute gate at -70 LUFS, then a relative gate 10 LU under the mean of what passed.
"""

from __future__ import annotations

import functools
import math

import numpy as np

ABSOLUTE_GATE = -70.0
SILENT = -120.0  # what a track with no block above the absolute gate reads (no loudness to speak of)


def _biquads(rate: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(b, a) of the shelf and the high-pass at `rate` (the formulas pyloudnorm and libebur128 use)."""
    out = []
    # stage 1: high shelf, G = +3.99984 dB, f0 = 1681.974 Hz, Q = 0.7071752
    g, f0, q = 3.999843853973347, 1681.974450955533, 0.7071752369554196
    k = math.tan(math.pi * f0 / rate)
    vh = 10 ** (g / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    out.append((np.array([(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0]), np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])))
    # stage 2: high-pass, f0 = 38.135 Hz, Q = 0.5003
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / rate)
    a0 = 1 + k / q + k * k
    out.append((np.array([1.0, -2.0, 1.0]), np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])))
    return out


def block_powers(samples: np.ndarray, rate: int) -> np.ndarray:
    """Mean square of the K-weighted track over 400 ms blocks every 100 ms (BS.1770's z_j).
    The two biquads are applied in the frequency domain (their response on an FFT grid padded by
    half a second, where the high-pass tail has died away): numpy only, O(n log n)."""
    x = samples.astype(np.float64)
    size = 1 << int(np.ceil(np.log2(len(x) + rate // 2 + 1)))
    y = np.fft.irfft(np.fft.rfft(x, size) * _response(size, rate), size)[: len(x)]
    block, step = int(0.4 * rate), int(0.1 * rate)
    if len(y) < block:
        return np.zeros(0)
    csum = np.concatenate([[0.0], np.cumsum(y * y)])
    starts = np.arange(0, len(y) - block + 1, step)
    return (csum[starts + block] - csum[starts]) / block


@functools.lru_cache(maxsize=8)
def _response(size: int, rate: int) -> np.ndarray:
    """The two biquads' response on the rfft grid of `size` at `rate` (the same for every track
    of a length band, and for every window of a long one). Read-only: it is shared."""
    z = np.exp(-1j * np.pi * np.arange(size // 2 + 1) / (size // 2))  # e^{-jω} on the rfft grid
    response = np.ones_like(z)
    for b, a in _biquads(rate):
        response *= (b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z)
    response.flags.writeable = False
    return response


def integrated(powers: np.ndarray) -> float:
    """Gated integrated loudness (LUFS) of block powers (from one track or several windows of it)."""
    lufs = lambda z: -0.691 + 10 * np.log10(z + 1e-30)  # noqa: E731
    kept = powers[lufs(powers) > ABSOLUTE_GATE]
    if not kept.size:
        return SILENT
    relative = lufs(np.mean(kept)) - 10.0
    kept = kept[lufs(kept) > relative]
    return round(float(lufs(np.mean(kept))), 3)


def frame_levels(x: np.ndarray, rate: int, frame_s: float) -> np.ndarray:
    """Mean-square level (dB re full scale) of consecutive frames of `frame_s` seconds; frame k
    starts at sample round(k·rate·frame_s), so a fractional frame length does not drift; a last
    partial frame is left out; digital silence reads -100 dB."""
    n = int(len(x) / (rate * frame_s))
    if n < 1:
        return np.zeros(0)
    bounds = np.round(np.arange(n + 1) * rate * frame_s).astype(np.int64)
    power = np.add.reduceat(np.square(x[: bounds[-1]], dtype=np.float64), bounds[:-1]) / np.diff(bounds)
    return 10 * np.log10(power + 1e-10)


# the noise floor of 16-bit audio (the canonical track's depth): frames quieter than this are
# digital silence, and an SNR measured against them would read 200 dB and more
QUANTIZATION_FLOOR_DBFS = -98.0


def snr_of_levels(levels: np.ndarray, spread_db: float = 1.0) -> float | None:
    """Signal-to-noise estimate from 20 ms frame levels (dB): the 95th minus the 10th percentile
    (the loud parts against the floor between them, never below 16-bit quantization noise). None
    for a stationary track (levels within `spread_db`): with no quieter stretch there is no floor
    to measure."""
    if len(levels) < 10:
        return None
    floor = max(float(np.percentile(levels, 10)), QUANTIZATION_FLOOR_DBFS)  # digital silence is not a noise floor
    spread = float(np.percentile(levels, 95)) - floor
    return None if spread < spread_db else round(spread, 3)
