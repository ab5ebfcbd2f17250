"""Landing drops: where raw files arrive. A local directory or an S3 prefix (`s3://bucket/prefix`),
read through one interface (`open_landing`): list the drop's names, read or stream one file.

A drop is a folder (or key prefix) under the landing root holding a ready marker (default
`_READY`, written last by whoever copies the drop); `ready_drops` finds them for the sensor.

Memory is one file at a time, never a drop: listing keeps names and sizes, `read` loads one file
(within `max_file_bytes`), `open` streams one (ranged GETs on S3, a bounded buffer).
"""

from __future__ import annotations

import hashlib
import io
import os
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tessera.core.discover import LandingError
from tessera.core.records import Reason
from tessera.resources.home import s3_storage_options

MANIFEST_NAMES = ("manifest.csv", "manifest.jsonl")
S3_READ_BUFFER = 1 << 20  # a stream's read-ahead on S3: one ranged GET per MiB, not per decoder read


def printable_name(rel: str) -> str:
    """A file name as text: undecodable bytes become \\xNN escapes (names are data, not paths)."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


class LocalLanding:
    """A landing directory. Names are '/'-separated and relative; symlinks that leave the
    root, and anything that is not a regular file, are reported per name as BAD_PATH."""

    def __init__(self, root: str | Path, max_file_bytes: int = 4 << 30, paths: dict[str, str] | None = None) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise FileNotFoundError(f"landing directory {root} does not exist or is not a directory")
        self.max_file_bytes = max_file_bytes
        # name → path; a worker given the names of its chunk (`paths`, relative) skips the walk
        self._paths: dict[str, Path] = {n: self.root / rel for n, rel in (paths or {}).items()}
        self._sizes: dict[str, int] = {}
        self._stamps: dict[str, int] = {}

    def list(self) -> list[str]:
        self._paths = {}
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            dirnames.sort()
            for fn in filenames:
                path = Path(dirpath) / fn
                name = printable_name(path.relative_to(self.root).as_posix())
                self._paths[name] = path
                try:
                    st = path.lstat()
                    self._sizes[name], self._stamps[name] = st.st_size, st.st_mtime_ns
                except OSError:
                    self._sizes[name] = 0
        return sorted(self._paths)

    def fingerprint(self) -> str:
        """The drop as `list` last saw it: see `fingerprint`."""
        return fingerprint(self._paths, self._sizes, self._stamps)

    def size(self, name: str) -> int:
        """Bytes of a listed file (its link's size for a symlink; 0 if unknown): for chunk planning only."""
        return self._sizes.get(name, 0)

    def relative(self, name: str) -> str:
        """The path of a listed name relative to the root (hand it to a worker with `paths`)."""
        return os.fsdecode(os.path.relpath(self._paths[name], self.root))

    def read(self, name: str) -> bytes:
        real = self._checked(name)
        try:
            return real.read_bytes()
        except OSError as exc:
            raise LandingError(Reason.BAD_PATH, f"cannot read {name!r}: {exc.strerror}") from None

    def open(self, name: str) -> IO[bytes]:
        """The file as a stream (a header read need not load a 4 GB video); same checks as `read`."""
        real = self._checked(name)
        try:
            return real.open("rb")
        except OSError as exc:
            raise LandingError(Reason.BAD_PATH, f"cannot open {name!r}: {exc.strerror}") from None

    def read_manifest(self, location: str) -> tuple[bytes, str]:
        """(bytes, name in the drop) of a batch's manifest: a file inside the drop keeps its relative
        name (so its own row is accounted for); one outside it is known by its file name."""
        path = Path(location).resolve()
        inside = path.is_relative_to(self.root)
        return path.read_bytes(), path.relative_to(self.root).as_posix() if inside else path.name

    def _checked(self, name: str) -> Path:
        """The real path of a listed regular file inside the root, within the size limit."""
        path = self._paths.get(name)
        if path is None:
            raise LandingError(Reason.BAD_PATH, f"{name!r} is not a file in the landing drop")
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError) as exc:
            raise LandingError(Reason.BAD_PATH, f"cannot resolve {name!r}: {exc}") from None
        if not real.is_relative_to(self.root):
            raise LandingError(Reason.BAD_PATH, f"{name!r} is a link that leaves the landing directory")
        if not real.is_file():
            raise LandingError(Reason.BAD_PATH, f"{name!r} is not a regular file")
        size = real.stat().st_size
        if size > self.max_file_bytes:
            raise LandingError(Reason.TOO_LARGE, f"{name!r} is {size} bytes > limit {self.max_file_bytes}")
        return real


def s3_filesystem() -> Any:
    """A pyarrow S3 filesystem with the lake's credentials and endpoint (resources/home.py
    `s3_storage_options`, from the AWS_* variables): landing and lake see the same store."""
    from pyarrow import fs

    opts = s3_storage_options()
    kwargs: dict[str, Any] = {"access_key": opts.get("aws_access_key_id"), "secret_key": opts.get("aws_secret_access_key"),
                              "region": opts.get("aws_region")}  # fmt: skip
    endpoint = opts.get("aws_endpoint", "")
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        kwargs.update(endpoint_override=host or scheme, scheme=scheme if host else "https")
    return fs.S3FileSystem(**{k: v for k, v in kwargs.items() if v is not None})


def split_s3(uri: str) -> str:
    """`s3://bucket/prefix/` → `bucket/prefix` (pyarrow's path form); refuses a URI without a bucket."""
    path = uri.removeprefix("s3://").strip("/")
    if not path:
        raise ValueError(f"landing {uri!r} names no bucket; use s3://BUCKET/PREFIX")
    return path


class S3Landing:
    """A landing drop under an S3 prefix. Names are the keys below the prefix ('/'-separated);
    keys are data, never joined into local paths. Objects are read one at a time and streamed
    on `open`, so a drop of any size costs the memory of its largest file at most."""

    def __init__(self, uri: str, max_file_bytes: int = 4 << 30, paths: dict[str, str] | None = None) -> None:
        self.root = "s3://" + split_s3(uri)
        self.max_file_bytes = max_file_bytes
        self._base = split_s3(uri)
        self._fs = s3_filesystem()
        # name → key below the prefix; a worker given the names of its chunk (`paths`) skips the listing
        self._keys: dict[str, str] = dict(paths or {})
        self._sizes: dict[str, int] = {}
        self._stamps: dict[str, int] = {}

    def list(self) -> list[str]:
        from pyarrow import fs

        try:
            infos = self._fs.get_file_info(fs.FileSelector(self._base, recursive=True, allow_not_found=True))
        except OSError as exc:
            raise FileNotFoundError(f"landing {self.root}: cannot list it ({exc}); check the bucket, AWS_* credentials and AWS_ENDPOINT_URL") from None
        self._keys = {}
        for info in infos:
            if info.type == fs.FileType.File:
                name = info.path[len(self._base) + 1 :]
                self._keys[name] = name
                self._sizes[name], self._stamps[name] = int(info.size or 0), int(info.mtime_ns or 0)
        if not self._keys:
            raise FileNotFoundError(f"landing {self.root} holds no object; copy the drop there first")
        return sorted(self._keys)

    def size(self, name: str) -> int:
        """Bytes of a listed object (0 if unknown): for chunk planning only."""
        return self._sizes.get(name, 0)

    def fingerprint(self) -> str:
        """The drop as `list` last saw it: see `fingerprint`."""
        return fingerprint(self._keys, self._sizes, self._stamps)

    def relative(self, name: str) -> str:
        """The key of a listed name below the prefix (hand it to a worker with `paths`)."""
        return self._keys[name]

    def read(self, name: str) -> bytes:
        path = self._checked(name)
        try:
            with self._fs.open_input_stream(path) as f:
                return f.read()
        except OSError as exc:
            raise LandingError(Reason.BAD_PATH, f"cannot read {name!r} from {self.root}: {exc}") from None

    def open(self, name: str) -> IO[bytes]:
        """The object as a seekable stream: ranged GETs through a read-ahead buffer of S3_READ_BUFFER."""
        path = self._checked(name)
        try:
            return io.BufferedReader(self._fs.open_input_file(path), S3_READ_BUFFER)  # type: ignore[arg-type]
        except OSError as exc:
            raise LandingError(Reason.BAD_PATH, f"cannot open {name!r} from {self.root}: {exc}") from None

    def read_manifest(self, location: str) -> tuple[bytes, str]:
        """(bytes, name in the drop) of a batch's manifest, an object inside the prefix or anywhere else."""
        inside = location.startswith(self.root + "/")
        name = location[len(self.root) + 1 :] if inside else posixpath.basename(location)
        if inside:
            self._keys.setdefault(name, name)
            return self.read(name), name
        try:
            with self._fs.open_input_stream(split_s3(location)) as f:
                return f.read(), name
        except OSError as exc:
            raise FileNotFoundError(f"manifest {location}: cannot read it ({exc})") from None

    def _checked(self, name: str) -> str:
        """The pyarrow path of a listed object within the size limit."""
        from pyarrow import fs

        key = self._keys.get(name)
        if key is None:
            raise LandingError(Reason.BAD_PATH, f"{name!r} is not a file in the landing drop")
        path = f"{self._base}/{key}"
        size = self._sizes.get(name)
        if size is None:  # a worker's landing did not list: ask for this one object
            info = self._fs.get_file_info(path)
            if info.type != fs.FileType.File:
                raise LandingError(Reason.BAD_PATH, f"{name!r} is no longer an object under {self.root}")
            size = self._sizes[name] = int(info.size or 0)
        if size > self.max_file_bytes:
            raise LandingError(Reason.TOO_LARGE, f"{name!r} is {size} bytes > limit {self.max_file_bytes}")
        return path


DropLanding = LocalLanding | S3Landing


def fingerprint(names: Iterable[str], sizes: Mapping[str, int], stamps: Mapping[str, int]) -> str:
    """Every listed name with its size and modification time: a file added, removed, or rewritten
    in place (even at the same size) changes it. What `raw`'s work on the drop depends on."""
    h = hashlib.sha256()
    for name in sorted(names):
        h.update(f"{name}\0{sizes.get(name, 0)}\0{stamps.get(name, 0)}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()[:16]


def open_landing(uri: str, paths: dict[str, str] | None = None) -> DropLanding:
    """The drop at `uri`: a local directory or `s3://bucket/prefix`; `paths` (name → relative
    location, from `relative`) lets a worker read its chunk without listing the drop again."""
    if uri.startswith("s3://"):
        return S3Landing(uri, paths=paths)
    if "://" in uri:
        raise ValueError(f"landing {uri}: only local directories and s3://bucket/prefix are supported")
    return LocalLanding(uri, paths=paths)


@dataclass(frozen=True, slots=True)
class Drop:
    """A complete drop under a landing root: its folder name, its URI, its manifest's URI if any."""

    folder: str
    uri: str
    manifest: str | None


def ready_drops(root: str, marker: str) -> list[Drop]:
    """Every folder directly under `root` that holds `marker` (a complete drop), by name; folders
    still being copied (no marker yet) wait. `root` is a local directory or `s3://bucket/prefix`."""
    if root.startswith("s3://"):
        return _ready_s3_drops(root, marker)
    base = Path(root)
    if not base.is_dir():
        raise FileNotFoundError(f"landing root {root} is not a directory")
    drops = []
    for folder in sorted(p for p in base.iterdir() if p.is_dir() and (p / marker).is_file()):
        manifest = next((str(folder / m) for m in MANIFEST_NAMES if (folder / m).is_file()), None)
        drops.append(Drop(folder.name, str(folder.resolve()), manifest))
    return drops


def _ready_s3_drops(root: str, marker: str) -> list[Drop]:
    from pyarrow import fs

    s3, base = s3_filesystem(), split_s3(root)
    try:
        folders = [i.base_name for i in s3.get_file_info(fs.FileSelector(base, allow_not_found=True)) if i.type == fs.FileType.Directory]
    except OSError as exc:
        raise FileNotFoundError(f"landing root {root}: cannot list it ({exc}); check the bucket, AWS_* credentials and AWS_ENDPOINT_URL") from None
    drops = []
    for folder in sorted(folders):
        wanted = [f"{base}/{folder}/{n}" for n in (marker, *MANIFEST_NAMES)]
        present = {i.path for i in s3.get_file_info(wanted) if i.type == fs.FileType.File}
        if wanted[0] in present:
            manifest = next((f"s3://{p}" for p in wanted[1:] if p in present), None)
            drops.append(Drop(folder, f"s3://{base}/{folder}", manifest))
    return drops
