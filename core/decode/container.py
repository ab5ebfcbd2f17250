"""Opening media containers with PyAV, from bytes or from stored streams."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import av

from tessera.core.decode import DecodeFailure, open_media
from tessera.core.records import Media, Reason


@contextlib.contextmanager
def open_container(data: Media, what: str) -> Iterator[av.container.InputContainer]:
    """The container over `data`; the container and its stream are closed on exit. Unreadable
    bytes raise DecodeFailure(CORRUPT) naming `what` was expected ("audio", "video")."""
    with open_media(data) as stream:
        try:
            container = av.open(stream, mode="r")
        except (av.error.FFmpegError, ValueError, OSError) as exc:
            raise DecodeFailure(Reason.CORRUPT, f"not a readable {what} container: {exc}") from None
        with container:
            yield container
