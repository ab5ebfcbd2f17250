"""image.decode: full decode under a pixel cap; exact size, sharpness, exposure and dHash on the row."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
import skimage.data
from PIL import Image

from tessera.core.ops.cleaned.image_decode import ImageDecode
from tessera.core.records import Quarantined, Reason, Sample


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (1-bit grey); the pixel data is a stub."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _decode(sample: Sample, **params: object):
    (out,) = ImageDecode(**params).apply([sample], None)
    return out


def test_records_exact_size_and_quality_metrics(make_sample, astronaut_png, camera_png) -> None:
    colour = _decode(make_sample(image=astronaut_png))
    grey = _decode(make_sample(image=camera_png))
    assert isinstance(colour, Sample) and isinstance(grey, Sample)
    assert (colour.metrics["width"], colour.metrics["height"]) == (96.0, 64.0)
    assert (grey.metrics["width"], grey.metrics["height"]) == (80.0, 60.0)
    for m in (colour.metrics, grey.metrics):
        assert 0.0 < m["brightness"] < 1.0
        assert m["blur_var"] > 0.0
        assert 0.0 <= m["clipped_share"] <= 1.0
        assert {"dhash_hi", "dhash_lo"} <= m.keys()


def test_blurred_copy_has_lower_sharpness(make_sample, astronaut_png) -> None:
    blurred = Image.open(io.BytesIO(astronaut_png)).resize((24, 16)).resize((96, 64), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    blurred.save(buf, format="PNG")
    sharp = _decode(make_sample(image=astronaut_png))
    soft = _decode(make_sample(image=buf.getvalue()))
    assert soft.metrics["blur_var"] < sharp.metrics["blur_var"] / 2


def test_same_picture_png_and_jpeg_have_the_same_dhash(make_sample, astronaut_png, astronaut_jpeg) -> None:
    a, b = _decode(make_sample(image=astronaut_png)), _decode(make_sample(image=astronaut_jpeg))
    ha = (int(a.metrics["dhash_hi"]) << 32) | int(a.metrics["dhash_lo"])
    hb = (int(b.metrics["dhash_hi"]) << 32) | int(b.metrics["dhash_lo"])
    assert (ha ^ hb).bit_count() <= 4


def test_truncated_png_is_truncated(make_sample, truncated_png) -> None:
    out = _decode(make_sample(image=truncated_png))
    assert isinstance(out, Quarantined) and out.reason is Reason.TRUNCATED


def test_random_bytes_are_corrupt(make_sample, random_bytes) -> None:
    out = _decode(make_sample(image=random_bytes))
    assert isinstance(out, Quarantined) and out.reason is Reason.CORRUPT


def test_zero_byte_image_is_quarantined(make_sample) -> None:
    assert isinstance(_decode(make_sample(image=b"")), Quarantined)


def test_pixel_cap_is_inclusive(make_sample, astronaut_png) -> None:
    assert isinstance(_decode(make_sample(image=astronaut_png), max_pixels=96 * 64), Sample)
    over = _decode(make_sample(image=astronaut_png), max_pixels=96 * 64 - 1)
    assert isinstance(over, Quarantined) and over.reason is Reason.TOO_LARGE
    assert "96x64" in over.detail


def test_huge_header_is_refused_before_pixels_load(make_sample) -> None:
    out = _decode(make_sample(image=_png_header_only(8000, 8000)))
    assert isinstance(out, Quarantined) and out.reason is Reason.TOO_LARGE


def test_image_above_pillow_bomb_limit_is_too_large_not_corrupt(make_sample) -> None:
    out = _decode(make_sample(image=_png_header_only(10_000, 10_000)))
    assert isinstance(out, Quarantined) and out.reason is Reason.TOO_LARGE


def test_format_outside_the_allow_list_is_unsupported(make_sample, astronaut_jpeg) -> None:
    out = _decode(make_sample(image=astronaut_jpeg), formats=("png",))
    assert isinstance(out, Quarantined) and out.reason is Reason.UNSUPPORTED
    assert "JPEG" in out.detail


def test_rows_without_an_image_pass_through_unchanged(make_sample, tone_wav) -> None:
    s = make_sample(audio=tone_wav)
    assert _decode(s) == s


def test_input_row_is_not_mutated(make_sample, astronaut_png) -> None:
    s = make_sample(image=astronaut_png)
    before = s.evolve()
    _decode(s)
    assert s == before and s.metrics == {}


def test_sixteen_bit_png_measures_like_its_eight_bit_version(make_sample) -> None:
    cam8 = np.asarray(Image.fromarray(skimage.data.camera()).resize((64, 64)))
    buf8, buf16 = io.BytesIO(), io.BytesIO()
    Image.fromarray(cam8).save(buf8, format="PNG")
    Image.fromarray(cam8.astype(np.uint16) * 257).save(buf16, format="PNG")
    m8 = _decode(make_sample(image=buf8.getvalue())).metrics
    m16 = _decode(make_sample(image=buf16.getvalue())).metrics
    assert m16["brightness"] == pytest.approx(m8["brightness"], abs=0.05)


def test_corrupt_detail_is_the_same_on_every_run(make_sample, random_bytes) -> None:
    out = _decode(make_sample(image=random_bytes))
    assert " at 0x" not in out.detail


def test_truncated_jpeg_is_caught_though_it_decodes_at_reduced_scale(make_sample, astronaut_jpeg) -> None:
    for cut in (len(astronaut_jpeg) // 3, len(astronaut_jpeg) * 2 // 3):
        out = _decode(make_sample(image=astronaut_jpeg[:cut]))
        assert isinstance(out, Quarantined) and out.reason in (Reason.TRUNCATED, Reason.CORRUPT), cut


def test_reduced_scale_decode_keeps_the_declared_size(make_sample, astronaut_jpeg) -> None:
    import io

    from PIL import Image

    out = _decode(make_sample(image=astronaut_jpeg))
    assert (out.metrics["width"], out.metrics["height"]) == Image.open(io.BytesIO(astronaut_jpeg)).size


@pytest.mark.parametrize("kind", [b"zTXt", b"iCCP"])
def test_a_metadata_chunk_that_inflates_without_bound_is_too_large(make_sample, astronaut_png, kind: bytes) -> None:
    """A compressed PNG text or ICC chunk of 64 MiB of zeros (64 kB on disk): a decompression bomb
    in the metadata, refused as TOO_LARGE like one in the pixels, not mistaken for damage."""
    z = zlib.compressobj(9)
    bomb = b"".join(z.compress(bytes(1 << 20)) for _ in range(64)) + z.flush()
    body = (b"Comment\0\0" if kind == b"zTXt" else b"icc\0\0") + bomb
    chunk = struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    out = _decode(make_sample(image=astronaut_png[:33] + chunk + astronaut_png[33:]))
    assert isinstance(out, Quarantined) and out.reason is Reason.TOO_LARGE and "inflates" in out.detail


def test_a_wide_photo_decodes_at_reduced_scale_and_fits_like_a_full_decode() -> None:
    """A 3:2 photo of 2400 px decodes at half scale (asked at its own aspect: a square box would
    keep it whole), and its canonical 512 px picture matches a full-size decode's within 35 dB."""
    from tessera.core.decode.image import canonical_image, open_image

    photo = Image.fromarray(skimage.data.astronaut()).resize((2400, 1600), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    photo.save(buf, format="JPEG", quality=92)
    reduced = open_image(buf.getvalue(), max_pixels=40_000_000, draft=(512, 512))
    full = open_image(buf.getvalue(), max_pixels=40_000_000)
    assert reduced.size == (1200, 800) and reduced.info["source_size"] == full.size == (2400, 1600)
    pictures = [np.asarray(Image.open(io.BytesIO(canonical_image(im, 512)[0])), dtype=np.float64) for im in (reduced, full)]
    assert pictures[0].shape == pictures[1].shape == (341, 512, 3)
    assert 10 * np.log10(255**2 / ((pictures[0] - pictures[1]) ** 2).mean()) > 35
