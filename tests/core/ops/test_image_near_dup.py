"""image.near_dup: within a batch, a re-encoded copy of a picture is a DUPLICATE of the one kept."""

from __future__ import annotations

import pytest

from core.ops.cleaned.image_decode import ImageDecode
from core.ops.unified.image_near_dup import ImageNearDup
from core.records import Quarantined, Reason, Sample


def _decoded(make_sample, *images: bytes, **extra: bytes) -> list[Sample]:
    return ImageDecode().apply([make_sample(image=b, **extra) for b in images], None)


def test_reencoded_copy_is_quarantined_and_a_different_photo_kept(
    make_sample, ctx, astronaut_png, astronaut_jpeg, camera_png, chelsea_png
) -> None:
    rows = _decoded(make_sample, astronaut_png, astronaut_jpeg, camera_png, chelsea_png)
    out = ImageNearDup().apply(rows, ctx)
    assert [r.sample_id for r in out] == [r.sample_id for r in rows]
    dups = [r for r in out if isinstance(r, Quarantined)]
    assert len(dups) == 1 and dups[0].reason is Reason.DUPLICATE
    pair = sorted(rows[:2], key=lambda r: r.sample_id)
    kept, dropped = pair
    assert dups[0].sample_id == dropped.sample_id  # the first by sample id is the one kept
    assert kept.sample_id[:12] in dups[0].detail
    assert isinstance(out[2], Sample) and isinstance(out[3], Sample)


def test_verdict_does_not_depend_on_batch_order(make_sample, ctx, astronaut_png, astronaut_jpeg, camera_png) -> None:
    rows = _decoded(make_sample, astronaut_png, astronaut_jpeg, camera_png)
    forward = {r.sample_id: type(r) for r in ImageNearDup().apply(rows, ctx)}
    backward = {r.sample_id: type(r) for r in ImageNearDup().apply(rows[::-1], ctx)}
    assert forward == backward


def test_radius_zero_keeps_different_photos(make_sample, ctx, astronaut_png, chelsea_png) -> None:
    rows = _decoded(make_sample, astronaut_png, chelsea_png)
    assert all(isinstance(r, Sample) for r in ImageNearDup(radius=0).apply(rows, ctx))


def test_captioned_images_are_not_compared(make_sample, ctx, astronaut_png, astronaut_jpeg) -> None:
    plain = _decoded(make_sample, astronaut_png)
    captioned = _decoded(make_sample, astronaut_jpeg, text=b"an astronaut")
    out = ImageNearDup().apply(plain + captioned, ctx)
    assert all(isinstance(r, Sample) for r in out)


def test_undecoded_rows_pass_through(make_sample, ctx, astronaut_png, astronaut_jpeg) -> None:
    raw = [make_sample(image=astronaut_png), make_sample(image=astronaut_jpeg)]
    assert ImageNearDup().apply(raw, ctx) == raw


def test_the_cluster_is_data_on_every_member(make_sample, ctx, astronaut_png, astronaut_jpeg, mk_image, camera_png) -> None:
    small = mk_image("astronaut", (256, 256), "JPEG", quality=50)  # the same picture, smaller and coarser
    rows = _decoded(make_sample, astronaut_png, astronaut_jpeg, small, camera_png)
    out = {r.sample_id: r for r in ImageNearDup(action="keep").apply(rows, ctx)}
    assert all(isinstance(r, Sample) for r in out.values())
    rep = min(r.sample_id for r in rows[:3])
    for r in rows[:3]:
        kept = out[r.sample_id]
        assert kept.cluster == rep and kept.metrics["cluster_size"] == 3.0
        assert kept.metrics["cluster_distance"] <= 4.0
    assert out[rep].metrics["cluster_distance"] == 0.0
    assert out[rows[3].sample_id].cluster is None and "cluster_size" not in out[rows[3].sample_id].metrics
    quarantined = [r for r in ImageNearDup().apply(rows, ctx) if isinstance(r, Quarantined)]
    assert len(quarantined) == 2 and all(q.sample.cluster == rep and "cluster of 3" in q.detail for q in quarantined)


def test_bad_settings_fail_when_the_stage_is_built() -> None:
    with pytest.raises(ValueError, match="hash must be one of"):
        ImageNearDup(hash="md5")
