"""The one way vectors are attached to samples, whatever the modality.

Re-embedding is skipped where it would change nothing: a row that already carries a vector
from the same model@revision for the same input bytes (`<modality>:input` in `encoders`
records their hash) keeps it. A changed caption, canonical image or model re-embeds.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from tessera.core.encoders import ENCODED, Models, l2_normalise, vector_column
from tessera.core.records import Result, Sample

UNAVAILABLE = "encoder_unavailable"


def embed_modality(
    samples: list[Sample], models: Models | None, modality: str, pick: Callable[[Sample], Any | None], batch_size: int
) -> list[Result]:
    """Encode `pick(s)` for every sample that has an input; rows note the model used, or why none ran."""
    wanted = [(s, x) for s in samples if (x := pick(s)) is not None]
    if not wanted:
        return list(samples)
    encoder = models.encoder(modality) if models else None
    if encoder is None:
        why = (models.why(modality) if models else None) or "no encoder configured"
        noted = {s.sample_id: s.evolve(encoders={**s.encoders, modality: f"{UNAVAILABLE}: {why}"}) for s, _ in wanted}
        return [noted.get(s.sample_id, s) for s in samples]
    column = vector_column(modality, encoder.model_id)
    tag, dtype = f"{encoder.model_id}@{encoder.revision}", getattr(encoder, "dtype", "float32")
    key = f"{modality}:input"
    stale = [(s, x, h) for s, x in wanted if not _current(s, modality, column, tag, h := input_hash(x), dtype)]
    done: dict[str, Sample] = {}
    chunks = [stale[i : i + batch_size] for i in range(0, len(stale), batch_size)]
    for chunk, vecs in zip(chunks, _pooled(encoder, [[x for _, x, _ in c] for c in chunks]), strict=True):
        for (s, _, h), v in zip(chunk, vecs, strict=True):
            done[s.sample_id] = s.evolve(vectors={**s.vectors, column: v.tolist()}, encoders={**s.encoders, modality: tag, key: h, f"{modality}:dtype": dtype})
    return [done.get(s.sample_id, s) for s in samples]


@dataclass(frozen=True, slots=True)
class Pooled:
    """Inputs that make one vector together (a video's keyframes): the mean of their unit vectors,
    normalised again."""

    parts: tuple[Any, ...]


def _pooled(encoder: Any, batches: list[list[Any]]) -> Iterator[np.ndarray]:
    """Each batch's vectors, one per input; a `Pooled` input's parts are encoded with the rest of
    its batch and averaged."""
    flat = [[p for x in b for p in (x.parts if isinstance(x, Pooled) else (x,))] for b in batches]
    for b, vecs in zip(batches, _encoded(encoder, flat), strict=True):
        vecs, out, at = np.asarray(vecs, np.float32), [], 0
        for x in b:
            n = len(x.parts) if isinstance(x, Pooled) else 1
            out.append(vecs[at : at + n].mean(axis=0))
            at += n
        yield l2_normalise(np.stack(out))


def _encoded(encoder: Any, batches: list[list[Any]]) -> Iterator[Any]:
    """Each batch's vectors, in order. An encoder that splits its work (`prepare`: decode and
    resize on the CPU; `run`: the model) gets the next batch prepared in a thread while the
    current one runs: a bounded prefetch of one batch, so decoding overlaps encoding."""
    if not (hasattr(encoder, "prepare") and hasattr(encoder, "run")) or len(batches) < 2:
        yield from (encoder.encode(b) for b in batches)
        return
    with ThreadPoolExecutor(1, thread_name_prefix="tessera-prefetch") as pool:
        ahead = pool.submit(encoder.prepare, batches[0])
        for nxt in [*batches[1:], None]:
            ready = ahead.result()
            if nxt is not None:
                ahead = pool.submit(encoder.prepare, nxt)
            yield encoder.run(ready)


def input_hash(x: Any) -> str:
    if isinstance(x, Pooled):
        return hashlib.sha256("+".join(input_hash(p) for p in x.parts).encode()).hexdigest()[:16]
    data = x if isinstance(x, bytes) else str(x).encode("utf-8")
    return hashlib.sha256(data).hexdigest()[:16]


def _current(s: Sample, modality: str, column: str, tag: str, h: str, dtype: str) -> bool:
    """The row's vector is from this model@revision, in this dtype (rows from before dtypes were
    recorded were float32), of these input bytes."""
    return (
        column in s.vectors and s.encoders.get(modality) == tag and s.encoders.get(f"{modality}:input") == h
        and s.encoders.get(f"{modality}:dtype", "float32") == dtype
    )  # fmt: skip


def search_text_for(s: Sample) -> str | None:
    """What full-text search matches: `text_for`, then the captions gathered from the picture's
    near-duplicates (so the one copy kept is found by whatever any copy was called)."""
    parts = [t for t in (text_for(s), *s.captions) if t]
    return "\n".join(parts) or None


def text_for(s: Sample) -> str | None:
    """Caption first, then the transcript, then subtitle cues joined."""
    if s.text:
        return s.text
    if s.transcript:
        return s.transcript
    joined = " ".join(g.text for g in s.segments).strip()
    return joined or None


def vector_tally(before: Mapping[str, Mapping[str, str]], landed: Iterable[Sample]) -> dict[str, int]:
    """`<modality>:encoded | reused | unavailable` → landed rows. Reused: the row kept the vector it
    already had (same model@revision and input hash as `before`, its encoders as it came in)."""
    tally: Counter[str] = Counter()
    for s in landed:
        for m in ENCODED:
            tag = s.encoders.get(m)
            if tag is None:
                continue
            had = before.get(s.sample_id, {})
            kept = had.get(m) == tag and had.get(f"{m}:input") == s.encoders.get(f"{m}:input")
            tally[f"{m}:{'unavailable' if tag.startswith(UNAVAILABLE) else 'reused' if kept else 'encoded'}"] += 1
    return dict(tally)

