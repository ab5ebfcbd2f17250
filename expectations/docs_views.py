"""Data Docs views whose Jinja templates compile once per process.

GX's views make a new Jinja environment for every page they build, so every stage's page
compiled the same 36 templates again (0.15–0.2 s on 2 cores, most of a page's cost). These are
GX's own views given one shared in-memory bytecode cache; `bridge.keep_project_fast` names them
in the project's `data_docs_sites`, the extension point GX offers for views. Pages are the same
bytes: only the compiled form of a template is reused, keyed by its name and source checksum.
"""

from __future__ import annotations

from typing import Any, ClassVar

from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket


class _InMemoryBytecode(BytecodeCache):
    """Compiled templates by bucket key, for the life of the process."""

    compiled: ClassVar[dict[str, bytes]] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self.compiled:
            bucket.bytecode_from_string(self.compiled[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()


class _SharedBytecode:
    """Mixed into a GX view: its Jinja environment reads and writes the process's compiled templates."""

    env: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.env.bytecode_cache = _InMemoryBytecode()


class CachedPageView(_SharedBytecode, DefaultJinjaPageView):
    pass


class CachedIndexPageView(_SharedBytecode, DefaultJinjaIndexPageView):
    pass
