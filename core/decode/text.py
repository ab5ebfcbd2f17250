"""Text decoding with an explicit error policy, and subtitle-file parsing (SRT, WebVTT)."""

from __future__ import annotations

import functools
import lzma
import os
import re
import shutil
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

from tessera.core.decode import DecodeFailure
from tessera.core.records import Reason, Segment

POLICIES = ("strict", "replace", "detect")
BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
# Encodings a text declares by its structure rather than a BOM: UTF-16/32 without one (their NUL
# bytes fall on a fixed lane), ISO-2022 (7-bit, so it also reads as UTF-8: its escapes name it)
UNMARKED_UTF = ("utf-32-le", "utf-32-be", "utf-16-le", "utf-16-be")
ISO_2022 = ((b"\x1b$)C", "iso2022_kr"), (b"\x1b$B", "iso2022_jp"), (b"\x1b$@", "iso2022_jp"), (b"\x1b$(D", "iso2022_jp_1"))


def decode_text(data: bytes, *, max_bytes: int, policy: str = "strict", min_confidence: float = 0.8) -> str:
    """The text of `data` (see `decode_text_as`)."""
    return decode_text_as(data, max_bytes=max_bytes, policy=policy, min_confidence=min_confidence)[0]


def decode_text_as(data: bytes, *, max_bytes: int, policy: str = "strict", min_confidence: float = 0.8) -> tuple[str, str]:
    """(text, encoding). A byte-order mark decides first (UTF-8, -16, -32); otherwise UTF-8.
    Bytes that are not UTF-8: `strict` refuses them (BAD_ENCODING, naming the first bad byte),
    `replace` substitutes U+FFFD, `detect` takes charset-normalizer's best guess when it is
    coherent enough (`min_confidence` = 1 - its chaos ratio) and refuses otherwise. Under every
    policy, UTF-16/32 without a BOM and ISO-2022 are read as what their structure says they are
    (see `_declared`). Over `max_bytes`: TOO_LARGE before anything is decoded."""
    if policy not in POLICIES:
        raise ValueError(f"text error policy {policy!r} must be one of {POLICIES}")
    if len(data) > max_bytes:
        raise DecodeFailure(Reason.TOO_LARGE, f"{len(data)} bytes > limit {max_bytes}")
    encoding = next((enc for bom, enc in BOMS if data.startswith(bom)), None) or _declared(data) or "utf-8"
    try:
        text = data.decode(encoding, errors="replace" if policy == "replace" else "strict")
    except UnicodeDecodeError as exc:
        if policy != "detect":
            raise DecodeFailure(Reason.BAD_ENCODING, f"not {encoding}: byte 0x{data[exc.start]:02x} at offset {exc.start}") from None
        text, encoding = _detected(data, exc, min_confidence)
    if "\x00" in text:
        raise DecodeFailure(Reason.BAD_ENCODING, "text contains NUL characters (binary data?)")
    if all(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in text):  # Cf: zero-width and other invisible format characters
        raise DecodeFailure(Reason.EMPTY, "text is empty: whitespace or invisible characters only")
    return text.removeprefix("\ufeff"), encoding.removesuffix("-sig")


def _declared(data: bytes) -> str | None:
    """The encoding `data`'s structure declares without a BOM: UTF-32/16 (LE or BE) when the lanes
    that hold a Latin-script text's zero high bytes are mostly NUL and the bytes decode to text
    with no NUL or other control character (binary data does not); ISO-2022-KR/JP when 7-bit
    data carries their escape sequences."""
    if b"\x00" in data:
        nul = lambda step, lane: data[lane::step].count(0) * step / len(data)  # noqa: E731  (used where step divides len(data))
        lanes = {  # the share of NUL bytes where each encoding puts them for text below U+0100
            "utf-32-le": min(nul(4, 2), nul(4, 3)) if len(data) % 4 == 0 else 0.0,
            "utf-32-be": min(nul(4, 0), nul(4, 1)) if len(data) % 4 == 0 else 0.0,
            "utf-16-le": nul(2, 1) if len(data) % 2 == 0 else 0.0,
            "utf-16-be": nul(2, 0) if len(data) % 2 == 0 else 0.0,
        }
        for enc in sorted(UNMARKED_UTF, key=lambda e: -lanes[e]):
            if lanes[enc] < 0.5:
                break
            try:
                text = data.decode(enc)
            except UnicodeDecodeError:
                continue
            if not any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r" for ch in text):
                return enc
        return None
    if b"\x1b" in data and max(data, default=0) < 0x80:
        return next((enc for escape, enc in ISO_2022 if escape in data), None)
    return None


def _detected(data: bytes, exc: UnicodeDecodeError, min_confidence: float) -> tuple[str, str]:
    """Of charset-normalizer's coherent-enough candidates, the one whose text reads most surely as
    a language (py3langid): on short text its own first pick is often a neighbouring code page."""
    from charset_normalizer import from_bytes

    found = [m for m in from_bytes(data) if m.encoding]
    fits = [m for m in found if 1.0 - m.chaos >= min_confidence]
    if not fits:
        best = found[0] if found else None
        guess = f"; the best guess, {best.encoding}, is too incoherent ({1 - best.chaos:.2f} < {min_confidence})" if best is not None else ""
        raise DecodeFailure(Reason.BAD_ENCODING, f"not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}) and no encoding fits{guess}")
    chosen = max(fits, key=lambda m: identify(str(m))[1])  # max keeps the first of equals: charset-normalizer's order
    return str(chosen), chosen.encoding.replace("_", "-")


MODEL_ARRAYS = ("ptc", "pc", "classes", "nextmove", "nextmove_row", "out_feat")  # py3langid's model file (modelio.save_model)


@functools.cache
def _identifier() -> Any:
    """py3langid's model ships inside its PyPI package (97 languages); loaded once per process,
    memory-mapped from an unpacked copy in the temp folder: 6 ms, where unpacking its LZMA file
    takes 0.5 s in every worker that identifies a language, and the pages are shared by every
    worker. The copy is a folder named by the packed file's size and time, written whole, then
    renamed into place, so a reader never sees part of one."""
    import numpy as np
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    packed = MODEL_DIR / MODEL_FILE
    stat = packed.stat()
    unpacked = Path(tempfile.gettempdir()) / f"tessera-py3langid-{stat.st_size}-{stat.st_mtime_ns}"
    try:
        if not unpacked.is_dir():
            _unpack(packed, unpacked)
        m = {name: np.load(unpacked / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in MODEL_ARRAYS}
        # the DFA walk indexes its tables with Python ints: a memoryview reads a mapped array as fast as py3langid's own arrays
        return LanguageIdentifier(
            m["ptc"], np.array(m["pc"]), m["classes"].tolist(), memoryview(m["nextmove"]), memoryview(m["out_feat"]), norm_probs=True, tk_row=memoryview(m["nextmove_row"])
        )  # fmt: skip
    except (OSError, ValueError):  # no writable temp folder, or a damaged copy: the packed model, and the copy made again next time
        shutil.rmtree(unpacked, ignore_errors=True)
        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _unpack(packed: Path, folder: Path) -> None:
    import numpy as np

    partial = folder.with_name(f"{folder.name}.{os.getpid()}.part")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    npz = partial / "model.npz"
    with lzma.open(packed) as src, open(npz, "wb") as dst:  # streamed: the 68 MB are never in memory at once
        shutil.copyfileobj(src, dst, length=1 << 20)
    with np.load(npz, allow_pickle=False) as m:
        for name in MODEL_ARRAYS:
            np.save(partial / f"{name}.npy", m[name], allow_pickle=False)
    npz.unlink()
    try:
        partial.rename(folder)
    except OSError:  # another worker's copy got there first
        shutil.rmtree(partial, ignore_errors=True)


def identify(text: str) -> tuple[str, float]:
    """(ISO 639-1 code, probability) of `text`'s language."""
    lang, score = _identifier().classify(text)
    return str(lang), float(score)


def canonical_text(text: str) -> str:
    """NFC, unified newlines, trimmed."""
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n")).strip()


_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})"
_CUE = re.compile(_TIME + r"\s*-->\s*" + _TIME)
_TAGS = re.compile(r"<[^>]+>|\{\\[^}]*\}")


def _seconds(h: str | None, m: str, s: str, frac: str) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(frac.ljust(3, "0")) / 1000


def parse_subtitles(text: str, source: str) -> list[Segment]:
    """Cues of an SRT or WebVTT file, in file order; markup tags are removed."""
    segments: list[Segment] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        lines = block.strip().split("\n")
        for i, line in enumerate(lines):
            m = _CUE.search(line)
            if m:
                start, end = _seconds(*m.groups()[:4]), _seconds(*m.groups()[4:])
                body = _TAGS.sub("", "\n".join(lines[i + 1 :])).strip()
                if body:
                    segments.append(Segment(start, end, body, source))
                break
    return segments


def ass_dialogue_text(line: str) -> str:
    """Text of an ASS dialogue event (what PyAV yields for mov_text/WebVTT): after the 8th comma."""
    parts = line.split(",", 8)
    body = parts[8] if len(parts) == 9 else line
    return _TAGS.sub("", body).replace("\\N", "\n").replace("\\n", "\n").strip()
