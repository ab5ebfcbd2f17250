"""embedded: per-modality vectors (GPU pool), then vector and full-text indexes on `samples`."""

from dagster import AssetExecutionContext, MetadataValue

from assets.factory import Inputs, stage_asset, upstream_reader
from resources.indexes import update_indexes
from resources.lake import LakeResource

_augmented = upstream_reader("augmented")


def read_with_earlier_vectors(context: AssetExecutionContext, lake: LakeResource, params: dict) -> Inputs:
    """Inputs carry the vectors an earlier run stored, so unchanged content is not encoded again."""
    inputs = _augmented(context, lake, params)
    earlier = lake.vectors_of("samples", context.partition_key)
    inputs.samples = [
        s.evolve(vectors=earlier[s.sample_id][0], encoders=earlier[s.sample_id][1]) if s.sample_id in earlier else s for s in inputs.samples
    ]
    return inputs


def build_indexes(lake: LakeResource, context: AssetExecutionContext) -> dict:
    """The batch's new rows join `samples`' indexes as a delta segment each (cost of the batch,
    not the table); an ANN index appears once a vector column reaches indexes.ann_min_rows."""
    table = lake.open("samples")
    return {"indexes": MetadataValue.json(update_indexes(table, context.resources.params.all()))} if table is not None else {}


embedded = stage_asset(
    name="embedded",
    upstream="augmented",
    read=read_with_earlier_vectors,
    models_used=("text", "image", "audio"),
    pool="gpu",
    after_commit=build_indexes,
    description="Per-modality encoders (text MiniLM; image CLIP and audio CLAP when their weights are reachable), "
    "re-encoding only changed content; then vector and full-text indexes.",
)
