"""image.hflip: a mirrored variant per image, its caption saying right where the parent says left."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tessera.core.ops.augmented.image_hflip import ImageHFlip, swap_sides
from tessera.core.ops.unified.image_canonical import ImageCanonical
from tessera.core.records import Sample

CAPTION = "A man on the Left holds a LEFT glove in his left-hand; leftover rights: right"
SWAPPED = "A man on the Right holds a RIGHT glove in his right-hand; leftover rights: left"


@pytest.fixture
def captioned(make_sample, astronaut_png) -> Sample:
    (canon,) = ImageCanonical().apply([make_sample(image=astronaut_png, text=CAPTION.encode())], None)
    return canon.evolve(
        text=CAPTION, media={"image": canon.media["image"]}, vectors={"vec_image__clip": [1.0, 0.0]}, encoders={"image": "clip@x"}
    )


def _pixels(b: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(b)).convert("RGB"))


def test_variant_is_mirrored_and_linked_to_its_parent(captioned: Sample, ctx) -> None:
    out = ImageHFlip().apply([captioned], ctx)
    assert out[0] == captioned.with_metrics(text_score=0.0)  # the parent lands as it was, its text score measured
    assert len(out) == 2
    v = out[1]
    assert isinstance(v, Sample)
    assert v.parent_id == captioned.sample_id and v.sample_id != captioned.sample_id
    assert v.aug_op == "image.hflip" and v.aug_params == {"axis": "horizontal"}
    assert np.array_equal(_pixels(v.media["image"]), _pixels(captioned.media["image"])[:, ::-1])
    assert v.vectors == {} and v.encoders == {}  # vectors never carry over to a changed picture


def test_caption_sides_swapped_with_case_kept(captioned: Sample, ctx) -> None:
    v = ImageHFlip().apply([captioned], ctx)[1]
    assert v.text == SWAPPED


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Left", "Right"),
        ("RIGHT", "LEFT"),
        ("left_eye", "right_eye"),
        ("top-left corner", "top-right corner"),
        ("leftover", "leftover"),
        ("bright", "bright"),
    ],
)
def test_swap_sides(text: str, expected: str) -> None:
    assert swap_sides(text) == expected


def test_same_input_gives_the_same_variant(captioned: Sample, ctx) -> None:
    assert ImageHFlip().apply([captioned], ctx) == ImageHFlip().apply([captioned], ctx)


def test_variants_and_rows_without_images_are_not_flipped(captioned: Sample, ctx, make_sample, tone_wav) -> None:
    variant = ImageHFlip().apply([captioned], ctx)[1]
    audio = make_sample(audio=tone_wav)
    assert ImageHFlip().apply([variant, audio], ctx) == [variant, audio]


def test_uncaptioned_image_gets_an_uncaptioned_variant(make_sample, ctx, camera_png) -> None:
    (canon,) = ImageCanonical().apply([make_sample(image=camera_png)], None)
    out = ImageHFlip().apply([canon], ctx)
    assert len(out) == 2 and out[1].text is None


def test_pictures_with_writing_are_not_mirrored(make_sample, ctx) -> None:
    import io

    import skimage.data
    from PIL import Image, ImageDraw, ImageFont

    from tessera.core.ops.augmented.image_hflip import ImageHFlip

    sign = Image.fromarray(skimage.data.astronaut())
    ImageDraw.Draw(sign).text((40, 380), "STOP HERE", fill=(255, 255, 255), font=ImageFont.load_default(size=40))
    buf = io.BytesIO()
    sign.save(buf, "PNG")
    photo = io.BytesIO()
    Image.fromarray(skimage.data.chelsea()).save(photo, "PNG")
    rows = [make_sample(image=buf.getvalue()).evolve(formats={"image": "png:rgb"}), make_sample(image=photo.getvalue()).evolve(formats={"image": "png:rgb"})]
    out = ImageHFlip().apply(rows, ctx)
    written, cat, *variants = out
    assert written.metrics["text_score"] > 0.002 and written.flags[0].startswith("image.hflip:not mirrored, writing covers")
    assert cat.metrics["text_score"] == 0.0 and not cat.flags
    assert [v.parent_id for v in variants] == [cat.sample_id]
