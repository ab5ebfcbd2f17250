"""embedded: per-modality vectors (GPU pool), then vector and full-text indexes on `samples`."""

from dagster import AssetExecutionContext

from assets.factory import stage_asset, upstream_reader
from resources.lake import LakeResource


def build_indexes(lake: LakeResource, context: AssetExecutionContext) -> dict:
    return lake.build_indexes()


embedded = stage_asset(
    name="embedded",
    upstream="augmented",
    read=upstream_reader("augmented"),
    models_used=("text", "image", "audio"),
    pool="gpu",
    after_commit=build_indexes,
    description="Per-modality encoders (text MiniLM; image CLIP and audio CLAP when their weights are reachable) and indexes.",
)
