"""Landing drops: where raw files arrive. A local directory (S3 prefixes: see the S3 issue)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from tessera.core.discover import LandingError
from tessera.core.records import Reason


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

    def list(self) -> list[str]:
        self._paths = {}
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            dirnames.sort()
            for fn in filenames:
                path = Path(dirpath) / fn
                name = printable_name(path.relative_to(self.root).as_posix())
                self._paths[name] = path
                try:
                    self._sizes[name] = path.lstat().st_size
                except OSError:
                    self._sizes[name] = 0
        return sorted(self._paths)

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


def open_landing(uri: str) -> LocalLanding:
    if uri.startswith("s3://"):
        raise ValueError(f"landing {uri}: S3 prefixes are not supported yet; copy the drop to a local directory")
    return LocalLanding(uri)
