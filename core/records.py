"""Records that flow between stages: a `Sample`, or a `Quarantined` sample with a reason.

Invariant: every stage maps each input to exactly one landed `Sample` or one
`Quarantined`; augmentation may add variant samples whose `parent_id` names an input.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import IO, Any, Protocol, runtime_checkable

# Fixed order in which modalities enter the sample id; never reorder (ids would change).
MODALITY_ORDER: tuple[str, ...] = ("text", "image", "audio", "video", "subtitles")
# Modalities whose decoders read a stream: a stage may hand them stored bytes to open (`Stored`)
# instead of loading the bytes into memory (params `execution.stream_bytes`).
STREAMED_MODALITIES: tuple[str, ...] = ("audio", "video")


@runtime_checkable
class Stored(Protocol):
    """Media bytes kept in the lake, read as a stream when opened (a large video need not fit in
    memory, and an isolated decoder child opens it itself rather than receive a copy)."""

    sha256: str
    size: int

    def open(self) -> IO[bytes]: ...


Media = bytes | Stored
MEDIA_MODALITIES: tuple[str, ...] = ("image", "audio", "video", "subtitles")


class Reason(StrEnum):
    """Closed set of quarantine reason codes."""

    EMPTY = "EMPTY"
    TRUNCATED = "TRUNCATED"
    CORRUPT = "CORRUPT"
    TOO_LARGE = "TOO_LARGE"
    TOO_LONG = "TOO_LONG"
    NO_STREAM = "NO_STREAM"
    BAD_ENCODING = "BAD_ENCODING"
    BAD_PATH = "BAD_PATH"
    UNSUPPORTED = "UNSUPPORTED"
    DUPLICATE = "DUPLICATE"
    UNPAIRED = "UNPAIRED"
    MISALIGNED = "MISALIGNED"
    LOW_QUALITY = "LOW_QUALITY"
    DECODER_CRASH = "DECODER_CRASH"
    OP_ERROR = "OP_ERROR"
    REJECTED = "REJECTED"  # a data steward's decision (core/decisions.py)
    UNSAFE = "UNSAFE"  # explicit content (image.nsfw); a steward may approve it
    GATE = "GATE"  # a row a stage's quality gate (Great Expectations) failed; `op` names the expectation


@dataclass(frozen=True, slots=True)
class Segment:
    """A timed text cue (subtitle line, transcript chunk) in seconds from media start."""

    start: float
    end: float
    text: str
    source: str


@dataclass(frozen=True, slots=True)
class Moment:
    """One point of a sample's timeline (aligned's `timeline.build`), in the pictures' seconds:
    the keyframe shown then (-1: the sample's photograph), the stretch of its audio track heard
    with it (seconds in that track, None without audio), and the cues showing (indexes into
    `segments`)."""

    t: float
    keyframe: int
    audio_start: float | None
    audio_end: float | None
    cues: tuple[int, ...]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def compute_sample_id(parts: dict[str, bytes]) -> str:
    """sha256 over each present modality's raw bytes in MODALITY_ORDER.

    Same bytes give the same id on every machine; names and paths never enter it.
    """
    unknown = set(parts) - set(MODALITY_ORDER)
    if unknown:
        raise ValueError(f"unknown modalities {sorted(unknown)}; expected a subset of {MODALITY_ORDER}")
    h = hashlib.sha256()
    for modality in MODALITY_ORDER:
        if modality in parts:
            h.update(modality.encode() + b"\0" + sha256_hex(parts[modality]).encode() + b"\n")
    return h.hexdigest()


@dataclass(slots=True)
class Sample:
    """One logical item with any subset of modalities.

    `raw_sha256` maps modality → sha256 of the raw bytes (provenance, never changes);
    `media` holds the bytes of the current stage (raw, then canonical) while a chunk is in
    flight; `media_ref` / `keyframe_refs` name the stored bytes (sha256 in the lake's
    content-addressed `blobs`) that a stage table row stands for;
    `metrics` are flat numbers a quality gate can check.
    """

    sample_id: str
    batch: str
    source: str
    modalities: list[str]
    raw_sha256: dict[str, str] = field(default_factory=dict)
    text: str | None = None
    media: dict[str, Media] = field(default_factory=dict)  # bytes, or Stored for a streamed modality
    formats: dict[str, str] = field(default_factory=dict)
    segments: list[Segment] = field(default_factory=list)
    keyframes: list[bytes] = field(default_factory=list)
    keyframe_times: list[float] = field(default_factory=list)
    timeline: list[Moment] = field(default_factory=list)  # keyframes ↔ audio windows ↔ cues (aligned)
    metrics: dict[str, float] = field(default_factory=dict)
    language: str | None = None  # ISO 639-1 of the caption (text.language), "und" when undetermined
    language_score: float | None = None
    cluster: str | None = None  # near-duplicate cluster: its representative's sample id (the representative's own, on it)
    captions: list[str] = field(default_factory=list)  # other captions of this picture, gathered from its near-duplicates (image.near_dup)
    flags: list[str] = field(default_factory=list)  # "op:what it noticed", kept on the row when not quarantined
    parent_id: str | None = None
    aug_op: str | None = None
    aug_params: dict[str, Any] | None = None
    vectors: dict[str, list[float]] = field(default_factory=dict)
    encoders: dict[str, str] = field(default_factory=dict)
    transcript: str | None = None
    code_versions: dict[str, str] = field(default_factory=dict)  # stage → code version that shaped this row
    media_ref: dict[str, str] = field(default_factory=dict)
    keyframe_refs: list[str] = field(default_factory=list)
    lineage: list[Any] = field(default_factory=list)  # this stage's ledger: core.lineage.Edge per operator that changed or judged it

    def evolve(self, **changes: Any) -> Sample:
        """A copy with `changes`; operators never mutate their input."""
        copied = {f.name: _copy_field(getattr(self, f.name)) for f in dataclasses.fields(self)}
        copied.update(changes)
        return Sample(**copied)

    def with_metrics(self, **values: float) -> Sample:
        return self.evolve(metrics={**self.metrics, **values})

    def quarantine(self, reason: Reason, detail: str, op: str = "") -> Quarantined:
        return Quarantined(sample=self, reason=reason, detail=detail, op=op)


def _copy_field(value: Any) -> Any:
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    return value


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A sample set aside with a reason code; `op` is filled in by the runner when empty."""

    sample: Sample
    reason: Reason
    detail: str
    op: str = ""

    @property
    def sample_id(self) -> str:
        return self.sample.sample_id


Result = Sample | Quarantined
