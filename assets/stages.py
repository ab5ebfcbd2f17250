"""The six stage assets, raw → cleaned → unified → aligned → augmented → embedded."""

from tessera.assets.aligned import aligned
from tessera.assets.augmented import augmented
from tessera.assets.cleaned import cleaned
from tessera.assets.embedded import embedded
from tessera.assets.raw import raw
from tessera.assets.unified import unified

STAGE_ASSETS = [raw, cleaned, unified, aligned, augmented, embedded]
__all__ = ["STAGE_ASSETS", "raw", "cleaned", "unified", "aligned", "augmented", "embedded"]
