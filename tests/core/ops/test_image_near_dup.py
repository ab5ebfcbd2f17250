"""image.near_dup: within a batch, a re-encoded copy of a picture is a DUPLICATE of the one kept."""

from __future__ import annotations

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
