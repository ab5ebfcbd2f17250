"""The six stage assets, raw → cleaned → unified → aligned → augmented → embedded."""

from assets.aligned import aligned
from assets.augmented import augmented
from assets.cleaned import cleaned
from assets.embedded import embedded
from assets.raw import raw
from assets.unified import unified

STAGE_ASSETS = [raw, cleaned, unified, aligned, augmented, embedded]
__all__ = ["STAGE_ASSETS", "raw", "cleaned", "unified", "aligned", "augmented", "embedded"]
