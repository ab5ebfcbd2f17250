"""image.canonical: RGB whose longer side is at most `max_side` (JPEG from a JPEG, PNG from a lossless source), with deterministic bytes."""

from __future__ import annotations

import io

import numpy as np
import skimage.data
from PIL import Image, ImageOps

from tessera.core.ops.unified.image_canonical import ImageCanonical
from tessera.core.records import Sample


def _canon(s: Sample, **params: object) -> Sample:
    (out,) = ImageCanonical(**params).apply([s], None)
    assert isinstance(out, Sample)
    return out


def _open(b: bytes) -> Image.Image:
    return Image.open(io.BytesIO(b))


def test_downscaled_to_max_side_as_rgb_jpeg_from_a_jpeg(make_sample, astronaut_jpeg) -> None:
    out = _canon(make_sample(image=astronaut_jpeg), max_side=48)
    im = _open(out.media["image"])
    assert im.format == "JPEG" and im.mode == "RGB"
    assert im.size == (48, 32)  # aspect ratio kept
    assert out.formats["image"] == "jpeg:rgb"
    assert (out.metrics["width"], out.metrics["height"]) == (48.0, 32.0)


def test_a_lossless_source_stays_lossless(make_sample, astronaut_png) -> None:
    out = _canon(make_sample(image=astronaut_png), max_side=48)
    assert _open(out.media["image"]).format == "PNG" and out.formats["image"] == "png:rgb"


def test_a_jpeg_canonical_is_a_fraction_of_the_png_of_the_same_pixels(make_sample) -> None:
    buf = io.BytesIO()
    Image.fromarray(skimage.data.astronaut()).save(buf, format="JPEG", quality=95)
    jpeg = _canon(make_sample(image=buf.getvalue()), max_side=512)
    png = io.BytesIO()
    _open(jpeg.media["image"]).save(png, format="PNG", compress_level=1)
    assert len(jpeg.media["image"]) * 3 < len(png.getvalue())


def test_small_images_are_never_upscaled(make_sample, astronaut_png) -> None:
    out = _canon(make_sample(image=astronaut_png), max_side=512)
    assert _open(out.media["image"]).size == (96, 64)
    assert np.array_equal(np.asarray(_open(out.media["image"])), np.asarray(_open(astronaut_png)))


def test_greyscale_becomes_rgb(make_sample, camera_png) -> None:
    im = _open(_canon(make_sample(image=camera_png)).media["image"])
    arr = np.asarray(im)
    assert im.mode == "RGB" and np.array_equal(arr[..., 0], arr[..., 2])


def test_transparent_pixels_become_white(make_sample) -> None:
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[:, :15] = (200, 10, 10, 255)  # opaque red on the left, fully transparent black on the right
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    arr = np.asarray(_open(_canon(make_sample(image=buf.getvalue())).media["image"]))
    assert tuple(arr[5, 5]) == (200, 10, 10)
    assert tuple(arr[5, 25]) == (255, 255, 255)


def test_bytes_are_deterministic(make_sample, astronaut_jpeg) -> None:
    a = _canon(make_sample(image=astronaut_jpeg), max_side=40).media["image"]
    b = _canon(make_sample(image=astronaut_jpeg), max_side=40).media["image"]
    assert a == b


def test_rows_without_an_image_pass_through(make_sample, tone_wav) -> None:
    s = make_sample(audio=tone_wav)
    assert _canon(s) == s


def test_exif_orientation_is_applied(make_sample) -> None:
    sideways = Image.fromarray(skimage.data.astronaut()).resize((64, 32))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    buf = io.BytesIO()
    sideways.save(buf, format="JPEG", exif=exif.tobytes())
    shown = ImageOps.exif_transpose(_open(buf.getvalue())).size  # what every viewer displays: 32x64
    assert _open(_canon(make_sample(image=buf.getvalue())).media["image"]).size == shown


def test_sixteen_bit_png_keeps_its_picture(make_sample) -> None:
    cam8 = np.asarray(Image.fromarray(skimage.data.camera()).resize((64, 64)))
    buf = io.BytesIO()
    Image.fromarray(cam8.astype(np.uint16) * 257).save(buf, format="PNG")
    out = np.asarray(_open(_canon(make_sample(image=buf.getvalue())).media["image"]), dtype=np.float64)
    assert abs(out[..., 0].mean() - cam8.mean()) < 5


def test_an_image_decoded_canonical_at_cleaned_is_not_decoded_again(make_sample, astronaut_jpeg) -> None:
    from tessera.core.ops.cleaned.image_decode import ImageDecode

    (decoded,) = ImageDecode(max_side=48).apply([make_sample(image=astronaut_jpeg)], None)
    declared = _open(astronaut_jpeg).size
    assert decoded.formats["image"] == "jpeg:rgb" and (decoded.metrics["width"], decoded.metrics["height"]) == declared
    out = _canon(decoded, max_side=48)
    assert out.media["image"] is decoded.media["image"]  # the same bytes: measured, not re-encoded
    assert (out.metrics["width"], out.metrics["height"]) == (48.0, 32.0)
    assert _canon(decoded, max_side=24).metrics["width"] == 24.0  # a smaller canonical size still re-fits
