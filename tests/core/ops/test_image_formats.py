"""image.decode on the formats and oddities that other projects' test suites hold: every raster
format Pillow decodes itself is recognised by its bytes and lands; damage found after the
header (a later frame, a broken EXIF block, an odd mode) is a reason code or a flag, never an
operator error."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tessera.core.ops.cleaned.image_decode import ImageDecode
from tessera.core.records import Quarantined, Reason, Sample
from tessera.core.sniff import Sniffed, sniff
from tests.core.conftest import build_sample, photo


def _saved(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _decode(data: bytes) -> Sample | Quarantined:
    (out,) = ImageDecode(max_side=64).apply([build_sample(image=data)], None)
    return out


PICTURE = photo("astronaut", (96, 64))


@pytest.mark.parametrize(
    ("fmt", "kw", "sniffed"),
    [
        ("MPO", {"save_all": True, "append_images": [PICTURE.rotate(180)]}, "jpeg"),  # a 3D/HDR camera's JPEG with a second picture
        ("TIFF", {"big_tiff": True}, "tiff"),
        ("JPEG2000", {}, "jpeg2000"),
        ("AVIF", {}, "avif"),
        ("PPM", {}, "ppm"),
        ("SGI", {}, "sgi"),
        ("QOI", {}, "qoi"),
        ("ICO", {"sizes": [(64, 64)]}, "ico"),
        ("PCX", {}, "pcx"),
        ("DDS", {}, "dds"),
        ("TGA", {}, "tga"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_valid_pictures_in_less_common_formats_are_recognised_and_land(fmt: str, kw: dict, sniffed: str) -> None:
    data = _saved(PICTURE, fmt, **kw)
    # by the bytes alone, except TGA (no magic), known by its suffix
    assert sniff(data, "picture.tga" if fmt == "TGA" else "no-suffix") == Sniffed("image", sniffed)
    out = _decode(data)
    assert isinstance(out, Sample), out.detail
    assert max(Image.open(io.BytesIO(out.media["image"])).size) == 64


def test_a_cielab_tiff_is_colour_managed_to_srgb_and_lands() -> None:
    lab = Image.new("LAB", (16, 16), (136, 208, 195))  # L* 53, a* +80, b* +67: sRGB red
    out = _decode(_saved(lab, "TIFF"))
    assert isinstance(out, Sample), out.detail
    r, g, b = Image.open(io.BytesIO(out.media["image"])).getpixel((8, 8))
    assert r > 200 and g < 60 and b < 60 and out.metrics["icc_converted"] == 1.0


def test_a_one_bit_png_with_a_transparent_colour_lands_on_white() -> None:
    bits = Image.new("1", (16, 16), 0)
    bits.paste(1, (0, 0, 8, 16))
    out = _decode(_saved(bits, "PNG", transparency=1))  # tRNS names the 'on' colour transparent
    assert isinstance(out, Sample), out.detail
    canonical = Image.open(io.BytesIO(out.media["image"]))
    assert canonical.getpixel((2, 8)) == (255, 255, 255) and canonical.getpixel((12, 8)) == (0, 0, 0)


def test_a_jpeg_whose_exif_block_is_cut_short_lands_as_stored() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate
    jpeg = _saved(PICTURE, "JPEG", exif=exif.tobytes())
    start = jpeg.index(b"Exif\x00\x00")
    length = int.from_bytes(jpeg[start - 2 : start], "big")
    broken = jpeg[: start + 6] + b"MM\x00*\x00\x00" + b"\x00" * (length - 2 - 12) + jpeg[start - 2 + length :]  # IFD offset past the block
    out = _decode(broken)
    assert isinstance(out, Sample), out.detail
    assert Image.open(io.BytesIO(out.media["image"])).size == (64, 43)  # not rotated: the orientation could not be read


def test_an_animation_whose_later_frame_is_damaged_keeps_its_first_frame_and_says_so() -> None:
    frames = [Image.new("RGB", (32, 32), c) for c in ((200, 0, 0), (0, 200, 0), (0, 0, 200))]
    apng = bytearray(_saved(frames[0], "PNG", save_all=True, append_images=frames[1:], default_image=False))
    second = apng.index(b"fcTL", apng.index(b"fcTL") + 4)
    apng[second + 4 : second + 8] = (99).to_bytes(4, "big")  # the second frame's sequence number out of order
    out = _decode(bytes(apng))
    assert isinstance(out, Sample), out.detail
    assert Image.open(io.BytesIO(out.media["image"])).getpixel((5, 5))[0] > 150
    assert any(f.startswith("image.decode:frame 2 unreadable") for f in out.flags), out.flags


def test_a_gif_frame_past_the_pixel_limit_is_too_large() -> None:
    frames = [Image.new("RGB", (8, 8), c) for c in ((200, 0, 0), (0, 0, 200))]
    gif = bytearray(_saved(frames[0], "GIF", save_all=True, append_images=frames[1:], optimize=False))
    second = gif.rindex(b"\x2c\x00\x00\x00\x00\x08\x00\x08\x00")  # the second frame's image descriptor: at (0, 0), 8 x 8
    gif[second + 5 : second + 9] = (60000).to_bytes(2, "little") * 2  # now 60000 x 60000
    out = _decode(bytes(gif))
    assert isinstance(out, Quarantined) and out.reason is Reason.TOO_LARGE, out


def test_a_heif_picture_without_a_heif_decoder_is_unsupported_not_corrupt() -> None:
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64
    assert sniff(heic, "photo.heic") == Sniffed("image", "heic")
    out = _decode(heic)
    assert isinstance(out, Quarantined) and out.reason is Reason.UNSUPPORTED and "HEIF" in out.detail
