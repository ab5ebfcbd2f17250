"""image.min_side: images with a side under `px` are LOW_QUALITY; the measured size stays on the row."""

from __future__ import annotations

from tessera.core.ops.cleaned.image_decode import ImageDecode
from tessera.core.ops.cleaned.image_min_side import ImageMinSide
from tessera.core.records import Quarantined, Reason, Sample


def test_threshold_is_on_the_shorter_side(make_sample, astronaut_png) -> None:
    (decoded,) = ImageDecode().apply([make_sample(image=astronaut_png)], None)  # 96x64
    (kept,) = ImageMinSide(px=64).apply([decoded], None)
    (small,) = ImageMinSide(px=65).apply([decoded], None)
    assert isinstance(kept, Sample) and kept == decoded
    assert isinstance(small, Quarantined) and small.reason is Reason.LOW_QUALITY
    assert "96x64" in small.detail and "65" in small.detail
    assert small.sample.metrics["width"] == 96.0 and small.sample.metrics["height"] == 64.0


def test_default_keeps_ordinary_thumbnails(make_sample, camera_png) -> None:
    (decoded,) = ImageDecode().apply([make_sample(image=camera_png)], None)  # 80x60
    assert ImageMinSide().apply([decoded], None) == [decoded]


def test_rows_without_an_image_pass_through(make_sample, tone_wav) -> None:
    s = make_sample(audio=tone_wav)
    assert ImageMinSide(px=10_000).apply([s], None) == [s]
