"""Tessera: raw multimodal drops to a curated, versioned, searchable LanceDB table.

    import tessera

    t = tessera.connect(".tessera")                       # a TESSERA_HOME, a lake folder or s3://…
    t.search("a rocket on the launch pad", k=5)          # the search `tessera search` runs
    ds = t.dataset(modalities=["image", "text"], image_size=224, release="v1")
    for batch in tessera.dataloader(ds, batch_size=32, num_workers=2):   # padded tensors + batch["mask"]
        ...

The repository keeps `core/`, `assets/`, `resources/`, … at its top level; installed, they are
this package's subpackages (`tessera.core`, …), so `tessera` is the only name a user's environment
gains. Importing `tessera` is cheap: the heavy libraries load when a call needs them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

# A source checkout: the subpackages live beside this folder, not inside it (an installed wheel
# puts them inside). Either way they import as `tessera.core`, `tessera.resources`, …
_HERE = os.path.dirname(os.path.abspath(__file__))
_CHECKOUT = os.path.dirname(_HERE)
if not os.path.isdir(os.path.join(_HERE, "core")) and os.path.isfile(os.path.join(_CHECKOUT, "core", "__init__.py")):
    __path__.append(_CHECKOUT)  # type: ignore[name-defined]  # noqa: F821

if TYPE_CHECKING:
    from tessera.api import Tessera

__all__ = ["Tessera", "collate", "connect", "dataloader"]


def connect(home_or_uri: str | os.PathLike[str] | None = None, *, release: str | None = None) -> Tessera:
    """A handle on a lake: a TESSERA_HOME (its `lake/` inside), a lake folder, or `s3://bucket/prefix`
    (credentials from the usual AWS variables); default: `TESSERA_LAKE_URI` or `$TESSERA_HOME/lake`.
    With `release`, every read sees that release's tagged tables."""
    from tessera.api import Tessera

    return Tessera.open(home_or_uri, release=release)


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Batches what `Tessera.dataset` yields: padded tensors, lengths, and a mask per modality."""
    from tessera.loader import collate as _collate

    return _collate(items)


def dataloader(dataset: Any, batch_size: int = 32, num_workers: int = 2, **options: Any) -> Any:
    """A `torch.utils.data.DataLoader` set up for a Tessera dataset (collate, forkserver workers)."""
    from tessera.loader import dataloader as _dataloader

    return _dataloader(dataset, batch_size, num_workers, **options)
