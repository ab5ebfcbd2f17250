"""How far a video's sound runs from its pictures: the picture's change from frame to frame (mean
absolute difference of small greyscale copies) against the sound's onsets (rises in energy over
the same frame grid), cross-correlated over lags within a limit. Where things happen on
screen and are heard (a door, a clap, speech with cuts), the two series peak together; the lag of
the best correlation is the offset, refined between grid points by a parabola.

Positive offsets: the sound comes late. The score is the correlation at the peak (0: nothing in
common, 1: the same shape), so a talking head without cuts or music over landscapes reads low and
is not judged."""

from __future__ import annotations

import numpy as np

from tessera.core.decode.loudness import frame_levels


def onsets(samples: np.ndarray, rate: int, fps: float) -> np.ndarray:
    """The sound's onset strength on a grid of 1/`fps` s (frames as `frame_levels` cuts them, so a
    fractional frame rate does not drift): the rise of level (dB) from one frame to the next
    (falls count 0)."""
    level = frame_levels(samples, rate, 1.0 / fps)
    if len(level) < 2:
        return np.zeros(0, np.float32)
    return np.concatenate([[0.0], np.maximum(np.diff(level), 0.0)]).astype(np.float32)


def motion_on_grid(times: np.ndarray, changes: np.ndarray, fps: float, length: int) -> np.ndarray:
    """Picture changes (at the time of the later frame) on the same grid as `onsets`: a change at
    frame k is heard in the sound's frame k when both are in step."""
    grid = np.zeros(length, np.float32)
    k = np.round(np.asarray(times) * fps).astype(np.int64)
    inside = (k >= 0) & (k < length)
    np.maximum.at(grid, k[inside], np.asarray(changes, np.float32)[inside])
    return grid


def sound_offset(samples: np.ndarray, rate: int, times: np.ndarray, changes: np.ndarray, max_lag_s: float) -> tuple[float, float] | None:
    """(seconds the sound lags the pictures, correlation) for a track and its video's frame
    changes (`times` from the track's start), on the video's own frame grid (its median frame
    interval; 5-60 frames a second)."""
    if len(times) < 2:
        return None
    step = float(np.median(np.diff(times)))
    fps = min(60.0, max(5.0, 1.0 / step)) if step > 0 else 25.0
    sound = onsets(samples, rate, fps)
    return offset(motion_on_grid(times, changes, fps, len(sound)), sound, fps, max_lag_s)


def best_lag(a: np.ndarray, b: np.ndarray, max_lag: int, min_overlap: int = 2) -> tuple[float, float, float]:
    """(lag in steps, refined between steps; its correlation; the correlation at lag 0): the shift of `b` that best matches
    `a` (positive: `b` comes late). Pearson correlation over the overlap; ties go to the smaller shift.
    Only shifts that leave at least `min_overlap` steps in common are tried (series shorter than
    the search give a narrower one, never an empty overlap); a constant stretch correlates 0."""
    n = min(len(a), len(b))
    max_lag = max(0, min(max_lag, n - max(2, min_overlap)))

    def corr(lag: int) -> float:
        x, y = (a[: n - lag], b[lag:n]) if lag >= 0 else (a[-lag:n], b[: n + lag])
        if len(x) < 2 or x.std() == 0 or y.std() == 0:
            return 0.0
        return float(np.corrcoef(x, y)[0, 1])

    lags = np.arange(-max_lag, max_lag + 1)
    scores = np.array([corr(int(k)) for k in lags])
    i = int(np.argmax(scores - 1e-9 * np.abs(lags)))
    if 0 < i < len(lags) - 1:  # between grid steps: a parabola through the peak and its neighbours
        left, mid, right = scores[i - 1 : i + 2]
        bend = left - 2 * mid + right
        refined = float(lags[i]) + (0.5 * (left - right) / bend if bend < 0 else 0.0)
    else:
        refined = float(lags[i])
    return refined, float(scores[i]), corr(0)


def offset(motion: np.ndarray, sound: np.ndarray, fps: float, max_lag_s: float, min_overlap_s: float = 3.0) -> tuple[float, float] | None:
    """(seconds the sound lags the pictures, correlation at that lag), or None when the series are
    too short or one of them never changes."""
    n = min(len(motion), len(sound))
    max_lag = int(max_lag_s * fps)
    if n - max_lag < min_overlap_s * fps or motion[:n].std() == 0 or sound[:n].std() == 0:
        return None
    lag, score, _ = best_lag(motion[:n].astype(np.float64), sound[:n].astype(np.float64), max_lag)
    return round(lag / fps, 3), round(score, 4)


def track_start(own: np.ndarray, other: np.ndarray, rate: int, expected_s: float, search_s: float, fps: float = 100.0) -> tuple[float, float] | None:
    """(where `other` starts on `own`'s clock, in seconds; correlation) for two recordings of one
    scene (a camera's own track, a separate recorder's), searched within ±`search_s` of
    `expected_s` (their clocks' guess) by lining up their onsets on a 1/`fps` s grid; None when
    they share too little. Onsets, not levels, so two microphones' gains and noise floors do not matter."""
    a, b = onsets(own, rate, fps).astype(np.float64), onsets(other, rate, fps).astype(np.float64)
    shift = int(round(expected_s * fps))
    b = np.concatenate([np.zeros(shift), b]) if shift >= 0 else b[-shift:]
    n, max_lag = min(len(a), len(b)), int(search_s * fps)
    if n - max_lag < 3.0 * fps or a[:n].std() == 0 or b[:n].std() == 0:
        return None
    lag, score, _ = best_lag(a[:n], b[:n], max_lag)
    return round(expected_s - lag / fps, 3), round(float(score), 4)
