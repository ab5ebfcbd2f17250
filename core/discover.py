"""Turn a landing drop (files + optional manifest) into raw samples.

Invariant (I1 at raw): every discovered file, and every manifest row, ends in exactly
one place: the `source` list of one landed sample, or one quarantine row.
Names and paths are data: they are kept in `source`, never used to build ids or paths.
"""

from __future__ import annotations

import csv
import io
import json
import posixpath
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Protocol

from tessera.core.records import MODALITY_ORDER, Quarantined, Reason, Sample, compute_sample_id, sha256_hex
from tessera.core.sniff import SUBTITLE_SUFFIXES, TEXT_SUFFIXES, claimed_modality, sniff

MANIFEST_PART_COLUMNS = ("image", "audio", "video", "subtitles", "text_path")


class LandingError(Exception):
    """A file that cannot be read as data (escapes the root, vanished, unreadable)."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class Landing(Protocol):
    """A landing drop: local directory or object-store prefix (see resources/landing.py)."""

    def list(self) -> list[str]: ...  # relative names, "/"-separated, printable

    def read(self, name: str) -> bytes: ...  # raises LandingError for bad paths


@dataclass(slots=True)
class Discovery:
    samples: list[Sample] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Entry:
    key: str  # the group's display key (stem or manifest sample id)
    sources: list[str] = field(default_factory=list)
    failure: tuple[Reason, str] | None = None  # why a manifest row lands nothing
    parts: dict[str, tuple[str, bytes, str]] = field(default_factory=dict)  # modality → (source, bytes, format)
    starts: dict[str, float] = field(default_factory=dict)  # a time-paired guest modality → its start on the host's timeline


def source_key(names: list[str]) -> str:
    """The `source` column: a JSON list of the input names a row came from."""
    return json.dumps(sorted(names), ensure_ascii=False)


def split_source(source: str) -> list[str]:
    try:
        names = json.loads(source)
    except (json.JSONDecodeError, TypeError):
        return [source]
    return [str(n) for n in names] if isinstance(names, list) else [source]


@dataclass(slots=True)
class Group:
    """A unit of raw work planned from names alone: one manifest row, or the files sharing a stem."""

    key: str
    names: list[str] = field(default_factory=list)  # files this group claims (stem group or manifest row)
    row: dict[str, str] | None = None  # the manifest row, if any
    absent: list[str] = field(default_factory=list)  # paths the row names that are not files of the drop
    starts: dict[str, float] = field(default_factory=dict)  # a time-paired guest → its start on the host's timeline (core/pairing.py)


@dataclass(slots=True)
class Plan:
    groups: list[Group] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)  # manifest rows that cannot be parsed


def plan(names: list[str], batch: str, manifest: bytes | None = None, manifest_name: str = "") -> Plan:
    """Group a drop's files into samples-to-be without reading them (memory ∝ names, not bytes).
    A file named by a manifest row belongs to the first row naming it; the rest pair by stem."""
    out = Plan()
    names = sorted(n for n in names if n != manifest_name)
    out.inputs.extend(names)
    known, claimed = set(names), set()
    if manifest is not None:
        rows, bad_rows = parse_manifest(manifest, manifest_name)
        for key, detail in bad_rows:
            out.inputs.append(key)
            out.quarantined.append(_bad(batch, key, Reason.CORRUPT, detail, "manifest.parse"))
        for key, row in rows:
            out.inputs.append(key)
            named = [n for col in ("path", *MANIFEST_PART_COLUMNS) if (n := _normalise(row.get(col) or "")) is not None]
            mine = [n for n in dict.fromkeys(named) if n in known and n not in claimed]
            claimed.update(mine)
            out.groups.append(Group(key=key, names=mine, row=row, absent=[n for n in named if n not in known]))
    by_stem: dict[str, list[str]] = defaultdict(list)
    for name in names:
        if name not in claimed:
            by_stem[_stem(name)].append(name)
    out.groups += [Group(key=stem, names=group) for stem, group in sorted(by_stem.items())]
    return out


def resolve(landing: Landing, batch: str, group: Group) -> Discovery:
    """Read and sniff one group's files: its samples (not yet deduplicated) and quarantined inputs.
    `inputs` holds inputs found only now (manifest paths that are not files of the drop)."""
    out = Discovery()
    if group.row is not None:
        entries = [_manifest_entry(landing, batch, group.key, group.row, set(group.absent), set(group.names), out)]
    else:
        sniffed: list[tuple[str, bytes, str, str]] = []
        for name in group.names:
            part = _read_part(landing, batch, name, out)
            if part is not None:
                sniffed.append((name, *part))
        modalities = [m for _, _, m, _ in sniffed]
        if len(set(modalities)) == len(modalities):  # one file per modality: one sample
            entry = _Entry(key=group.key)
            for name, data, modality, fmt in sniffed:
                entry.sources.append(name)
                entry.parts[modality] = (name, data, fmt)
                if name in group.starts:
                    entry.starts[modality] = group.starts[name]
            entries = [entry]
        else:  # same stem, same modality twice: nothing to pair reliably, keep each alone
            entries = [_Entry(key=name, sources=[name], parts={modality: (name, data, fmt)}) for name, data, modality, fmt in sniffed]
    for entry in entries:
        if entry.parts:
            out.samples.append(_to_sample(entry, batch))
        elif entry.sources:  # a manifest row that lands nothing: its parts are quarantined, and so is the row
            reason, detail = entry.failure or (Reason.EMPTY, "manifest row names no usable file or text")
            out.quarantined.append(_bad(batch, entry.sources[0], reason, detail, "raw.pair"))
    return out


def discover(landing: Landing, batch: str, manifest: bytes | None = None, manifest_name: str = "") -> Discovery:
    """The whole drop at once (small drops, tests): plan, resolve every group, and keep one
    sample per content — the one with the smallest source, the others DUPLICATE."""
    names = landing.list()
    p = plan(names, batch, manifest, manifest_name)
    out = Discovery(quarantined=list(p.quarantined), inputs=list(p.inputs))
    found: list[Sample] = []
    for group in p.groups:
        d = resolve(landing, batch, group)
        found += d.samples
        out.quarantined += d.quarantined
        out.inputs += d.inputs
    seen: dict[str, str] = {}
    for sample in sorted(found, key=lambda s: s.source):
        if sample.sample_id in seen:
            out.quarantined.append(sample.quarantine(Reason.DUPLICATE, f"same content as {seen[sample.sample_id]}", "raw.dedup"))
        else:
            seen[sample.sample_id] = sample.source
            out.samples.append(sample)
    return out


def parse_manifest(data: bytes, name: str) -> tuple[list[tuple[str, dict[str, str]]], list[tuple[str, str]]]:
    """Rows of a CSV or JSONL manifest as (row key, columns); unparsable rows come back separately."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], [(f"{name}#manifest", f"manifest is not UTF-8 ({exc.reason} at byte {exc.start}); save it as UTF-8")]
    rows: list[tuple[str, dict[str, str]]] = []
    bad: list[tuple[str, str]] = []
    if name.lower().endswith((".jsonl", ".ndjson")) or text.lstrip().startswith("{"):
        for i, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise ValueError("not an object")
                rows.append((f"{name}#{i}", {str(k): "" if v is None else str(v) for k, v in obj.items()}))
            except ValueError as exc:
                bad.append((f"{name}#{i}", f"manifest line {i} is not a JSON object: {exc}"))
    else:
        for i, rec in enumerate(csv.DictReader(io.StringIO(text)), start=2):
            rows.append((f"{name}#{i}", {str(k): (v or "") for k, v in rec.items() if k is not None}))
    return rows, bad


def _manifest_entry(
    landing: Landing, batch: str, key: str, row: dict[str, str], absent: set[str], mine: set[str], out: Discovery
) -> _Entry:
    """One manifest row as one sample. A row that loses any part it names lands nothing: its
    other files and its text are quarantined UNPAIRED (a caption without its picture is no sample)."""
    entry = _Entry(key=row.get("sample") or row.get("id") or key, sources=[key])
    lost: list[tuple[Reason, str]] = []  # why each part the row names was refused

    def fail(input_key: str, reason: Reason, detail: str, op: str, data: bytes | None = None, new_input: bool = False) -> None:
        lost.append((reason, detail))
        out.quarantined.append(_bad(batch, input_key, reason, detail, op, data))
        if new_input:
            out.inputs.append(input_key)

    for col in ("path", *MANIFEST_PART_COLUMNS):
        raw_path = row.get(col)
        if not raw_path:
            continue
        name = _normalise(raw_path)
        if name is None:
            fail(f"{key}:{raw_path}", Reason.BAD_PATH, f"manifest path {raw_path!r} leaves the landing root", "raw.manifest", new_input=True)
            continue
        if name in absent:
            fail(f"{key}:{raw_path}", Reason.BAD_PATH, f"manifest path {raw_path!r} is not in the landing drop", "raw.manifest", new_input=True)
            continue
        if name not in mine:  # an earlier row named this file: the file is accounted for once
            continue
        mine.discard(name)
        part = _read_part(landing, batch, name, out)
        if part is None:  # the file was just quarantined: its reason is the row's loss
            lost.append((out.quarantined[-1].reason, out.quarantined[-1].detail))
            continue
        data, modality, fmt = part
        if col == "text_path":
            modality = "text"
        elif col != "path" and modality != col:
            fail(name, Reason.CORRUPT, f"manifest says {col} but the bytes are {fmt}", "raw.sniff", data)
            continue
        if modality in entry.parts:
            fail(name, Reason.UNPAIRED, f"row {key} already has {modality} from {entry.parts[modality][0]}", "raw.pair", data)
            continue
        entry.parts[modality] = (name, data, fmt)
        entry.sources.append(name)
    if row.get("text", "").strip() and "text" not in entry.parts:
        entry.parts["text"] = (key, row["text"].encode("utf-8"), "txt")
    if lost and entry.parts:
        why = f"row {key} lost a part it names ({lost[0][1][:120]})"
        for name, data, _ in entry.parts.values():
            if name != key:
                out.quarantined.append(_bad(batch, name, Reason.UNPAIRED, why, "raw.pair", data))
        entry.parts, entry.sources, entry.failure = {}, [key], (Reason.UNPAIRED, why)
    elif lost:  # nothing of the row survives: the row fails for the reason its (first) part did
        entry.failure = (lost[0][0], f"row {key} names no usable part ({lost[0][1][:120]})")
    return entry


def _read_part(landing: Landing, batch: str, name: str, out: Discovery) -> tuple[bytes, str, str] | None:
    """(bytes, modality, format) of one file, or None after quarantining it."""
    try:
        data = landing.read(name)
    except LandingError as exc:
        out.quarantined.append(_bad(batch, name, exc.reason, exc.detail, "raw.read"))
        return None
    if not data:
        out.quarantined.append(_bad(batch, name, Reason.EMPTY, "file is zero bytes", "raw.sniff", data))
        return None
    sniffed = sniff(data, name)
    if sniffed.modality is None:
        claimed_as = claimed_modality(name)
        if claimed_as:
            detail = f"name says {claimed_as} but the bytes match no known {claimed_as} format"
            out.quarantined.append(_bad(batch, name, Reason.CORRUPT, detail, "raw.sniff", data))
        else:
            out.quarantined.append(_bad(batch, name, Reason.UNSUPPORTED, "unknown file type (no known magic bytes or text suffix)", "raw.sniff", data))
        return None
    return data, sniffed.modality, sniffed.format


def _to_sample(entry: _Entry, batch: str) -> Sample:
    parts = {m: data for m, (_, data, _) in entry.parts.items()}
    text_bytes = parts.pop("text", None)
    media = {m: parts[m] for m in MODALITY_ORDER if m in parts}
    id_parts = dict(media)
    if text_bytes is not None:
        id_parts["text"] = text_bytes
    return Sample(
        sample_id=compute_sample_id(id_parts),
        batch=batch,
        source=source_key(entry.sources),
        modalities=[m for m in MODALITY_ORDER if m in id_parts],
        raw_sha256={m: sha256_hex(b) for m, b in id_parts.items()},
        media={**media, **({"text": text_bytes} if text_bytes is not None else {})},
        formats={m: fmt for m, (_, _, fmt) in entry.parts.items()},
        metrics={f"paired_{m}_start_s": t for m, t in entry.starts.items()},
        flags=[f"raw.pair:time({m} from {entry.parts[m][0]} starts at {t:+.2f} s)" for m, t in sorted(entry.starts.items())],
    )


def _bad(batch: str, name: str, reason: Reason, detail: str, op: str, data: bytes | None = None) -> Quarantined:
    """A quarantine row for an input that never became a sample; its id hashes the bytes or the name."""
    sid = sha256_hex(data) if data else sha256_hex(f"name:{name}".encode())
    sample = Sample(sample_id=sid, batch=batch, source=source_key([name]), modalities=[])
    return Quarantined(sample, reason, detail, op)


# a language tag before a caption's or subtitle track's suffix: en, pt-BR, zh-Hans; and, for
# subtitles only (where players use them), three letters: eng, fra
_LANGUAGE_TAG = {"text": re.compile(r"[a-z]{2}(-[A-Za-z0-9]{2,8})?"), "subtitles": re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})?")}


def _stem(name: str) -> str:
    """`dir/cat.jpg`, `dir/cat.txt` and `dir/cat.jpg.txt` all pair under `dir/cat`; so do a
    caption or subtitle track tagged with its language (`dir/cat.en.srt`, `dir/cat.pt-BR.vtt`);
    folders never split."""
    head, base = posixpath.split(name)
    stem, _, last = base.rpartition(".")
    if not stem:
        return name
    inner, _, suffix = stem.rpartition(".")
    kind = "subtitles" if f".{last.lower()}" in SUBTITLE_SUFFIXES else "text" if f".{last.lower()}" in TEXT_SUFFIXES else ""
    tag = _LANGUAGE_TAG.get(kind)
    if inner and tag is not None and tag.fullmatch(suffix):
        return posixpath.join(head, inner)
    return posixpath.join(head, inner if inner and claimed_modality(f"x.{suffix}") else stem)


def _normalise(path: str) -> str | None:
    """A manifest path as a landing name, or None when it escapes the root (or is empty)."""
    if not path:
        return None
    p = path.replace("\\", "/")
    if p.startswith("/") or (len(p) > 1 and p[1] == ":"):
        return None
    norm = posixpath.normpath(p)
    if norm == ".." or norm.startswith("../"):
        return None
    return norm
