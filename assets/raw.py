"""raw: discover a landing drop, sniff, hash, pack the bytes into the lake's blobs."""

from __future__ import annotations

from pathlib import Path

from dagster import AssetExecutionContext

from assets.factory import Inputs, stage_asset
from core.accounting import keys_by_source
from core.discover import discover
from resources.lake import LakeResource
from resources.landing import open_landing


def read_landing(context: AssetExecutionContext, lake: LakeResource, params: dict) -> Inputs:
    batch = context.partition_key
    info = lake.batch_info(batch)
    landing = open_landing(info["uri"])
    manifest, manifest_name = None, ""
    if info.get("manifest"):
        path = Path(info["manifest"])
        manifest = path.read_bytes()
        inside = path.resolve().is_relative_to(landing.root)
        manifest_name = path.resolve().relative_to(landing.root).as_posix() if inside else path.name
    found = discover(landing, batch, manifest, manifest_name)
    packed = lake.put_blobs(found.samples, batch)
    context.log.info(f"batch {batch}: {len(found.inputs)} inputs, {len(found.samples)} samples, {packed} blobs packed")
    return Inputs(samples=found.samples, keys=found.inputs, quarantined=found.quarantined)


raw = stage_asset(
    name="raw",
    read=read_landing,
    key=keys_by_source,
    keep_media=False,
    description="Discover a landing drop (optional manifest; else pair by stem), sniff types by magic bytes, hash, pack bytes.",
)
