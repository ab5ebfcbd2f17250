"""cleaned: full decode under limits, quality metrics, exact and near dedup."""

from assets.factory import stage_asset, upstream_reader
from core.records import MODALITY_ORDER

cleaned = stage_asset(
    name="cleaned",
    upstream="raw",
    read=upstream_reader("raw", hydrate=MODALITY_ORDER),
    keep_media=False,
    description="Full decode under limits (video in child processes), quality metrics, exact and near dedup.",
)
