"""image.near_dup: within a batch, a re-encoded copy of a picture is a DUPLICATE of the one kept."""

from __future__ import annotations

import pytest

from tessera.core.ops.cleaned.image_decode import ImageDecode
from tessera.core.ops.unified.image_near_dup import ImageNearDup
from tessera.core.records import Quarantined, Reason, Sample


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


def test_a_copy_with_another_caption_is_a_duplicate_and_its_caption_goes_to_the_one_kept(
    make_sample, ctx, astronaut_png, astronaut_jpeg, mk_image, camera_png
) -> None:
    """Captioned or not, every picture is compared: a near-copy of a photo under another caption
    is the duplicate that matters most in image-text sets. The kept row gathers the copies'
    distinct captions (`captions: gather`), so nothing a person wrote about the picture is lost."""
    small = mk_image("astronaut", (80, 53), "JPEG", quality=70)
    captions = [None, "an astronaut in a white suit", "NASA portrait of an astronaut", "a man with a camera"]
    pictures = [astronaut_png, astronaut_jpeg, small, camera_png]
    rows = [_decoded(make_sample, b, **({"text": c.encode()} if c else {}))[0].evolve(text=c) for b, c in zip(pictures, captions, strict=True)]
    out = {r.sample_id: r for r in ImageNearDup().apply(rows, ctx)}
    rep = min(r.sample_id for r in rows[:3])
    dups = [r for r in out.values() if isinstance(r, Quarantined)]
    assert sorted(d.sample_id for d in dups) == sorted(r.sample_id for r in rows[:3] if r.sample_id != rep)
    assert all(d.reason is Reason.DUPLICATE and d.sample.cluster == rep for d in dups)
    kept = out[rep]
    assert isinstance(kept, Sample)
    others = sorted(r.text for r in rows[:3] if r.sample_id != rep and r.text and r.text != kept.text)
    assert sorted(kept.captions) == others and others
    assert isinstance(out[rows[3].sample_id], Sample) and out[rows[3].sample_id].captions == []
    separate = {r.sample_id: r for r in ImageNearDup(captions="separate").apply(rows, ctx)}
    assert separate[rep].captions == [] and sum(isinstance(r, Quarantined) for r in separate.values()) == 2


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
    with pytest.raises(ValueError, match="captions one of"):
        ImageNearDup(captions="merge")
