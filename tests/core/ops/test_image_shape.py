"""image.shape: strips and banners are LOW_QUALITY, a side over max_side TOO_LARGE; the aspect ratio stays on the row."""

from __future__ import annotations

import io

from PIL import Image

from tessera.core.ops.cleaned.image_decode import ImageDecode
from tessera.core.ops.cleaned.image_shape import ImageShape
from tessera.core.records import Quarantined, Reason, Sample


def _decoded(make_sample, size: tuple[int, int]) -> Sample:
    buf = io.BytesIO()
    Image.new("RGB", size, (90, 120, 150)).save(buf, "PNG")
    (out,) = ImageDecode().apply([make_sample(image=buf.getvalue())], None)
    assert isinstance(out, Sample)
    return out


def test_a_photo_passes_with_its_aspect_ratio_recorded(make_sample, astronaut_png) -> None:
    (decoded,) = ImageDecode().apply([make_sample(image=astronaut_png)], None)  # 96x64
    (out,) = ImageShape().apply([decoded], None)
    assert isinstance(out, Sample) and out.metrics["aspect_ratio"] == 1.5


def test_a_banner_is_low_quality_whichever_way_it_lies(make_sample) -> None:
    for size in ((700, 100), (100, 700)):
        (out,) = ImageShape(max_aspect=6.0).apply([_decoded(make_sample, size)], None)
        assert isinstance(out, Quarantined) and out.reason is Reason.LOW_QUALITY and "7.0:1" in out.detail
        assert out.sample.metrics["aspect_ratio"] == 7.0
    (kept,) = ImageShape(max_aspect=8.0).apply([_decoded(make_sample, (700, 100))], None)
    assert isinstance(kept, Sample)


def test_a_side_over_the_limit_is_too_large_and_zero_means_none(make_sample) -> None:
    big = _decoded(make_sample, (2100, 1500))
    (out,) = ImageShape(max_side=2048).apply([big], None)
    assert isinstance(out, Quarantined) and out.reason is Reason.TOO_LARGE
    (kept,) = ImageShape(max_side=0).apply([big], None)
    assert isinstance(kept, Sample)
