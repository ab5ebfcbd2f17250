from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from tessera.core.ops.base import RowOp, register_op
from tessera.core.records import Reason, Result, Sample

# C0 and C1 controls but tab and newline; invisible characters that hide or reorder text:
# zero-width space, word joiner, a stray BOM, bidi embeddings/overrides and isolates (the
# "Trojan Source" set). Kept on purpose: ZWJ/ZWNJ (emoji sequences, Persian and Indic
# spelling) and the LRM/RLM marks that right-to-left text relies on.
INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u2060\ufeff\u202a-\u202e\u2066-\u2069]")
MARKUP = re.compile(r"<[A-Za-z/!][^<>]*>|&(?:#\d+|#x[0-9A-Fa-f]+|[A-Za-z]+);")
SPACES = re.compile(r"[ \t\u00a0]+")
BLANK_LINES = re.compile(r"\n\s*\n\s*\n+")


class _Text(HTMLParser):
    """The text of HTML/XML: tags dropped, entities resolved, script and style bodies skipped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.skip += tag in ("script", "style")
        if tag in ("br", "p", "div", "li"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        self.skip -= tag in ("script", "style") and self.skip > 0

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def strip_markup(text: str) -> str:
    parser = _Text()
    parser.feed(text)
    parser.close()
    return "".join(parser.parts)


@register_op("text.clean")
@dataclass(frozen=True, slots=True)
class TextClean(RowOp):
    """The caption as a person reads it: control and invisible characters removed (see
    INVISIBLE for what is kept and why), HTML/XML markup reduced to its text (entities
    resolved), runs of spaces and blank lines collapsed; what was removed is counted on the row
    (`text_controls_removed`, `text_markup_removed`). Then length limits on what is left: under
    `min_chars` LOW_QUALITY, over `max_chars` TOO_LARGE, each with the length found. Linear in
    the text's length."""

    min_chars: int = 1
    max_chars: int = 20_000
    markup: bool = True
    modality = "text"

    def __call__(self, s: Sample) -> Result:
        if s.text is None:
            return s
        visible = INVISIBLE.sub("", s.text)
        controls = len(s.text) - len(visible)
        plain = strip_markup(visible) if self.markup and MARKUP.search(visible) else visible
        markup = max(0, len(visible) - len(plain))
        text = BLANK_LINES.sub("\n\n", SPACES.sub(" ", plain)).strip()
        if len(text) < self.min_chars:
            return s.quarantine(Reason.LOW_QUALITY, f"caption has {len(text)} characters after cleaning (< {self.min_chars})")
        if len(text) > self.max_chars:
            return s.quarantine(Reason.TOO_LARGE, f"caption has {len(text)} characters after cleaning (> {self.max_chars})")
        return s.evolve(text=text).with_metrics(text_chars=float(len(text)), text_controls_removed=float(controls), text_markup_removed=float(markup))
