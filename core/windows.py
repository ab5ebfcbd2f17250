"""Long media as windows: a recording or video longer than a stage's `window_over_s` is cut into
consecutive windows instead of being quarantined TOO_LONG.

Invariants: the input (the parent) lands at the stage that cut it, with its whole-medium
metrics and `windows` = how many; it ends there (later stages read only rows whose
`metrics.windows` is null). Each window is a new row whose `parent_id` is the parent, whose id
derives from the parent's, the modality cut and the window's index (same input → same windows,
same ids), with the window's own media and metrics, `window_start_s` / `window_end_s` in the
parent's time, and the parent's cues that overlap it re-timed to it. A caption describes the
whole, so windows carry none (speech in them is transcribed at `aligned`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tessera.core.records import Sample, Segment, sha256_hex


def spans(duration: float, window_s: float, min_s: float) -> list[tuple[float, float]]:
    """Consecutive (start, end) of `window_s` covering `duration`; a last remainder under `min_s`
    joins the window before it."""
    out: list[tuple[float, float]] = []
    start = 0.0
    while start < duration:
        end = min(duration, start + window_s)
        if out and end - start < min_s:
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
        start = end
    return out


def retime(segments: Iterable[Segment], start: float, end: float) -> list[Segment]:
    """The cues overlapping [start, end), shifted to the window and clipped to its length."""
    length = end - start
    return [
        Segment(max(0.0, g.start - start), min(length, g.end - start), g.text, g.source)
        for g in segments
        if g.end > start and g.start < end
    ]


def window_id(parent_id: str, modality: str, index: int) -> str:
    """Distinct per modality: a video whose separate audio file is also long is cut twice (its
    track's windows at audio.decode, its clips at video.decode), under the same parent."""
    return sha256_hex(f"window\0{parent_id}\0{modality}\0{index}".encode())


def window(parent: Sample, modality: str, index: int, span: tuple[float, float], media: dict[str, Any], formats: dict[str, str], metrics: dict[str, float], **fields: Any) -> Sample:
    """The `index`-th window of `parent` over `span` (seconds in the parent)."""
    start, end = span
    cues = retime(parent.segments, start, end)
    kinds = {modality, *(["subtitles"] if cues and "subtitles" in parent.modalities else [])}
    return Sample(
        sample_id=window_id(parent.sample_id, modality, index),
        batch=parent.batch,
        source=parent.source,
        modalities=[m for m in parent.modalities if m in kinds],
        raw_sha256=dict(parent.raw_sha256),
        media=media,
        formats=formats,
        segments=cues,
        metrics={**metrics, "window_start_s": round(start, 6), "window_end_s": round(end, 6)},
        parent_id=parent.sample_id,
        aug_op=f"{modality}.window",
        aug_params={"index": index, "start_s": round(start, 6), "end_s": round(end, 6)},
        code_versions=dict(parent.code_versions),
        **fields,
    )


def cut(blocks: Iterable[Any], rate: int, window_s: float) -> Iterator[Any]:
    """Sample blocks (numpy, any lengths) regrouped into consecutive windows of `window_s` at
    `rate` (the last one shorter); holds one window at a time."""
    import numpy as np

    size = max(1, int(round(window_s * rate)))
    pending: list[Any] = []
    held = 0
    for block in blocks:
        while len(block):
            take = min(size - held, len(block))
            pending.append(block[:take])
            held += take
            block = block[take:]
            if held == size:
                yield np.concatenate(pending)
                pending, held = [], 0
    if held:
        yield np.concatenate(pending)


def stitch(pieces: Iterable[tuple[float, float, Any]], start_s: float, n: int, rate: int, read: Callable[[Any], Any]) -> tuple[Any, tuple[int, int]]:
    """`n` samples at `rate` of a recording kept in pieces — (start_s, end_s, encoded) on its own
    clock, consecutive, e.g. its windows — from `start_s` on that clock (negative: before it
    began), silent where no piece covers; and the stretch of the `n` that pieces covered, as
    (first, end) indexes (equal: none). Only the pieces that overlap are decoded (`read`:
    encoded → samples), so memory holds the span, never the recording."""
    import numpy as np

    out = np.zeros(n, np.float32)
    first, lo, hi = int(round(start_s * rate)), n, 0
    for a, b, encoded in pieces:
        if b * rate <= first or a * rate >= first + n:
            continue
        samples, at = read(encoded), int(round(a * rate))
        head, tail = max(first, at), min(first + n, at + len(samples))
        if tail > head:
            out[head - first : tail - first] = samples[head - at : tail - at]
            lo, hi = min(lo, head - first), max(hi, tail - first)
    return out, (lo, hi) if hi > lo else (0, 0)
