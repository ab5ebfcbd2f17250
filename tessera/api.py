"""The handle `tessera.connect` returns: one lake (local or S3), optionally at a release, and what a
user does with it — search, train (`dataset`), look back (`releases`, `lineage`, `why_missing`).

The CLI and `tessera serve` call the same functions in `resources/`; nothing here computes what
they do not."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tessera.core.records import MODALITY_ORDER

STATUSES = ("landed", "quarantined")


@dataclass
class Tessera:
    """A lake and, when `release` is set, the release every read sees."""

    uri: str
    release: str | None = None
    params_file: str | None = None
    _lake: Any = field(default=None, repr=False)

    @classmethod
    def open(cls, home_or_uri: str | os.PathLike[str] | None = None, *, release: str | None = None, params: str | None = None) -> Tessera:
        from tessera.resources.home import lake_uri

        if home_or_uri is None:
            uri = lake_uri()
        elif str(home_or_uri).startswith("s3://"):
            uri = str(home_or_uri).rstrip("/")
        else:
            path = Path(home_or_uri).expanduser().resolve()
            uri = str(path / "lake" if (path / "lake").is_dir() else path)
            if not Path(uri).is_dir():
                raise FileNotFoundError(f"no lake at {path}: give a TESSERA_HOME, a lake folder or an s3:// URI")
        handle = cls(uri, release, params)
        if release:
            handle.manifest(release)  # an unknown release fails here, in one line, not at the first read
        return handle

    # -- the lake -------------------------------------------------------------------------------
    @property
    def lake(self) -> Any:
        if self._lake is None:
            from tessera.resources.store import Lake

            self._lake = Lake(self.uri)
        return self._lake

    def params(self) -> dict[str, Any]:
        from tessera.resources.params import load_params

        return load_params(self.params_file)

    def version(self, table: str = "samples", release: str | None = None) -> int:
        """The version of `table` reads see: the release's tag, or the latest."""
        release = release or self.release
        if release:
            from tessera.resources.releases import version_at

            return version_at(self.lake, release, table)
        ds = self.lake.dataset(table)
        if ds is None:
            raise ValueError(f"the lake at {self.uri} has no {table} table yet; run `tessera demo` or `tessera materialize` first")
        return int(ds.version)

    # -- search ---------------------------------------------------------------------------------
    def search(
        self,
        query: str = "",
        *,
        k: int | None = None,
        modality: str | None = None,
        like: str | None = None,
        variants: bool = False,
        release: str | None = None,
    ) -> list[dict[str, Any]]:
        """The search `tessera search` runs: hits with `sample_id`, `score` (higher is better)."""
        from tessera.resources.search import QueryModels, SearchParams, search

        params = self.params()
        return search(self.lake, QueryModels.from_params(params), query, k=k, modality=modality, like=like, variants=variants,
                      release=release or self.release, params=SearchParams.from_params(params))  # fmt: skip

    # -- training -------------------------------------------------------------------------------
    def dataset(
        self,
        *,
        modalities: Sequence[str] = MODALITY_ORDER,
        where: str | None = None,
        table: str = "samples",
        status: str = "landed",
        batch: str | Sequence[str] | None = None,
        require: Sequence[str] = (),
        variants: bool = True,
        query: str | None = None,
        k: int = 1000,
        release: str | None = None,
        stream: bool = False,
        shuffle: bool = True,
        seed: int = 0,
        read_rows: int = 64,
        rank: int | None = None,
        world_size: int | None = None,
        **decode: Any,
    ) -> Any:
        """A `torch.utils.data` dataset over `samples` (see `tessera.loader`): map-style, or
        iterable with `stream=True` (sharded across DataLoader workers and ranks, seeded shuffle,
        `set_epoch`). Rows of `table` (`samples`, or a stage's table, whose `status="quarantined"`
        rows are the inputs that stage set aside): `status`, `batch`, having every modality in `require`,
        augmentation variants unless `variants=False`, the top `k` hits of `query`, and any SQL
        `where` over `samples`' columns; of `release` (or the handle's). Decoding: `modalities`
        and the keywords of `tessera.loader.Decode` (image_size, image_dtype, audio_window_s,
        video, video_frames, tokenizer, max_tokens, vectors). Batch with `tessera.collate`."""
        from tessera.loader import Decode, SampleDataset, SampleStream, Selection
        from tessera.resources.store import _quote, in_list

        spec = Decode(modalities=tuple(modalities), **{k_: tuple(v) if k_ == "vectors" else v for k_, v in decode.items()})
        from tessera.resources.store import STAGE_TABLES

        if table not in STAGE_TABLES.values():
            raise ValueError(f"table {table!r}: choose one of {', '.join(STAGE_TABLES.values())}")
        if status not in STATUSES:
            raise ValueError(f"status {status!r}: choose one of {', '.join(STATUSES)}")
        if bad := sorted(set(require) - set(MODALITY_ORDER)):
            raise ValueError(f"require: {', '.join(bad)} unknown; choose from {', '.join(MODALITY_ORDER)}")
        release = release or self.release
        version = self.version(table, release)
        conds = [f"status = {_quote(status)}", *(f"array_has(modalities, {_quote(m)})" for m in require)]
        if batch is not None:
            conds.append(in_list("batch", [batch] if isinstance(batch, str) else list(batch)))
        if not variants:
            conds.append("parent_id IS NULL")
        if query is not None:
            ids = [h["sample_id"] for h in self.search(query, k=k, variants=variants, release=release)]
            conds.append(in_list("sample_id", ids) if ids else "false")
        if where:
            conds.append(f"({where})")
        ds = self.lake.dataset(table, version)
        missing = sorted(set(spec.vectors) - set(ds.schema.names))
        if missing:
            have = sorted(c for c in ds.schema.names if c.startswith("vec_"))
            raise ValueError(f"{table} has no column {missing[0]} (vector columns: {', '.join(have) or 'none'})")
        filt = " AND ".join(conds)
        try:
            found = ds.to_table(columns=[], filter=filt, with_row_address=True)
        except Exception as exc:  # a bad `where` is the caller's: say which, in one line
            raise ValueError(f"cannot select {table} rows with {filt!r}: {str(exc).splitlines()[0][:300]}") from None
        import numpy as np

        blobs = self.lake.dataset("blobs", self.version("blobs", release) if release else None)
        selection = Selection(
            lake_uri=self.uri,
            table=table,
            version=version,
            blobs_version=int(blobs.version) if blobs is not None else None,
            where=filt,
            addresses=np.sort(found["_rowaddr"].to_numpy()),
        )
        if stream:
            return SampleStream(selection, spec, shuffle=shuffle, seed=seed, read_rows=read_rows, rank=rank, world_size=world_size)
        return SampleDataset(selection, spec)

    # -- looking back ---------------------------------------------------------------------------
    def status(self, batch: str | None = None) -> list[dict[str, Any]]:
        """Each batch's books per stage (`tessera status`): in, landed, variants, quarantined by
        reason, checks, version and main metrics — now, or at this handle's release."""
        from tessera.orchestration.books import books

        return books(self.lake, batch, self.release)

    def releases(self) -> list[dict[str, Any]]:
        """Every release, oldest first: name, when, note and its manifest."""
        from tessera.resources.releases import listed

        return listed(self.lake)

    def manifest(self, release: str) -> dict[str, Any]:
        from tessera.resources.releases import manifest

        try:
            return manifest(self.lake, release)
        except KeyError as exc:
            raise KeyError(exc.args[0]) from None

    def lineage(self, sample_id: str) -> dict[str, Any]:
        """The sample's story from raw to `samples` (`tessera lineage`)."""
        from tessera.resources.lineage import story

        return story(self.lake, sample_id, self._versions())

    def why_missing(self, source: str, batch: str | None = None) -> dict[str, Any]:
        """Why a source file never reached the table, or reached it and left (`tessera why-missing`)."""
        from tessera.resources.lineage import why_missing

        return why_missing(self.lake, source, batch, self._versions())

    def _versions(self) -> dict[str, int] | None:
        if not self.release:
            return None
        return {t: int(v) for t, v in self.manifest(self.release)["versions"].items()}
