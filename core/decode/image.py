"""Image decoding with Pillow under a pixel cap and a format allow-list."""

from __future__ import annotations

import contextlib
import functools
import io
import math
import struct
import warnings
from collections.abc import Iterator

import numpy as np
from PIL import Image, ImageCms, ImageOps, PngImagePlugin, UnidentifiedImageError

from tessera.core.decode import DecodeFailure
from tessera.core.records import Reason

# Pillow's names of the raster formats it decodes itself (no Ghostscript, no outside library):
# the everyday web and camera ones, then the scientific, print, texture and icon ones a drop holds.
ALLOWED_FORMATS = frozenset({"PNG", "JPEG", "MPO", "GIF", "WEBP", "BMP", "TIFF", "AVIF", "JPEG2000", "PPM", "TGA", "PSD", "DDS", "SGI", "QOI", "ICO", "CUR", "ICNS", "PCX"})
# formats["image"] of a canonical image (upright RGB, longer side bounded): JPEG when the source
# was JPEG (a PNG of a lossy source stores its artefacts losslessly, at several times the bytes),
# PNG for every lossless source.
CANONICAL_PNG, CANONICAL_JPEG = "png:rgb", "jpeg:rgb"
CANONICAL_FORMATS = frozenset({CANONICAL_PNG, CANONICAL_JPEG})
LOSSY_SOURCES = frozenset({"JPEG", "MPO"})  # MPO: a JPEG with more pictures after the first (3D and HDR cameras)
_BOMB_MESSAGE = "Decompressed data too large"  # Pillow's ValueError when a compressed PNG text or ICC chunk exceeds its limit
# what Pillow's format plugins raise on damaged bytes (struct.error: a short EXIF or TIFF field)
PILLOW_ERRORS: tuple[type[Exception], ...] = (OSError, SyntaxError, ValueError, EOFError, struct.error, NotImplementedError, Image.DecompressionBombError)


def open_image(
    data: bytes, *, max_pixels: int, allowed: frozenset[str] = ALLOWED_FORMATS, draft: tuple[int, int] | None = None
) -> Image.Image:
    """Fully decode `data` (header checks first, so a huge image is refused before its pixels load).

    `draft` lets a JPEG decode at the smallest DCT scale still covering that size (much faster)."""
    try:
        with _own_pixel_limit():
            im = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise DecodeFailure(Reason.CORRUPT, "not a readable image: no image format recognises these bytes") from None
    except PILLOW_ERRORS as exc:
        raise unreadable(exc, "image header unreadable") from None
    if im.format not in allowed:
        raise DecodeFailure(Reason.UNSUPPORTED, f"format {im.format} is not in the allow-list {sorted(allowed)}")
    w, h = im.size
    if w <= 0 or h <= 0:
        raise DecodeFailure(Reason.EMPTY, f"image has no pixels ({w}x{h})")
    if w * h > max_pixels:
        raise DecodeFailure(Reason.TOO_LARGE, f"{w}x{h} = {w * h} pixels > limit {max_pixels}")
    im.info["source_size"] = (w, h)  # what the file declares, before any reduced-scale decode
    if draft is not None and im.format == "JPEG":
        im.draft("RGB" if im.mode == "RGB" else im.mode, draft_box(w, h, draft))
    try:
        with _own_pixel_limit():
            im.load()
    except PILLOW_ERRORS as exc:
        raise unreadable(exc, "pixel data unreadable") from None
    return im


# How much larger than its box a JPEG is decoded before the last Lanczos step. Measured on 80 of
# bench/peers.py's photos fitted to 512 px, against a full-size decode: 2× costs 21.6 ms a picture
# (PSNR ≥ 41 dB), 1.5× 15.4 ms (≥ 35 dB, p10 44 dB), 1× 10.8 ms (≥ 30 dB). The DCT scaling is
# itself a low-pass downscale, so a smaller margin loses little.
DRAFT_MARGIN = 1.5


def draft_box(w: int, h: int, fit: tuple[int, int]) -> tuple[int, int]:
    """The size to ask libjpeg's DCT scaling for, so that the picture still covers `DRAFT_MARGIN`
    times the box `fit` it will be fitted into: the box at the picture's own aspect. Pillow picks
    the largest scale (1/2, 1/4, 1/8) keeping *both* sides at least the size asked, so asking a
    square box of a 3:2 photo would keep it at full size."""
    scale = min(DRAFT_MARGIN * fit[0] / w, DRAFT_MARGIN * fit[1] / h)
    return max(1, math.ceil(w * scale)), max(1, math.ceil(h * scale))


def frame_count(im: Image.Image, cap: int, max_pixels: int) -> tuple[int, str]:
    """Frames of an animated GIF/APNG/WebP or multi-page TIFF, counted up to `cap` + 1 (so a file
    declaring millions costs no more than the cap), and why counting stopped early ("" when it
    did not): a later frame that does not decode leaves the first, already decoded, usable.
    A frame over `max_pixels` is TOO_LARGE (DecodeFailure). The decoder is left on the first frame."""
    if not getattr(im, "is_animated", False) and getattr(im, "n_frames", 1) == 1:
        return 1, ""
    n, stopped = 1, ""
    try:
        while n <= cap:
            im.seek(n)
            if im.size[0] * im.size[1] > max_pixels:
                raise DecodeFailure(Reason.TOO_LARGE, f"frame {n + 1} is {im.size[0]}x{im.size[1]} pixels > limit {max_pixels}")
            n += 1
    except EOFError:
        pass
    except Image.DecompressionBombError as exc:
        raise DecodeFailure(Reason.TOO_LARGE, f"frame {n + 1}: {exc}") from None
    except PILLOW_ERRORS as exc:
        stopped = f"frame {n + 1} unreadable ({type(exc).__name__}: {exc}); the first {n} kept"
    finally:
        with contextlib.suppress(*PILLOW_ERRORS):
            im.seek(0)
    return n, stopped


def to_srgb(im: Image.Image) -> tuple[Image.Image, bool]:
    """`im` in sRGB when it carries another ICC profile (Adobe RGB, Display P3, a camera's or a
    CMYK press profile) or is CIELAB: its colours as an sRGB display shows them; (im, whether converted)."""
    if im.mode == "LAB":  # CIELAB pixels (a TIFF's): colour-managed to sRGB like a profile would be
        lab = ImageCms.profileToProfile(im, ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), outputMode="RGB")
        assert lab is not None
        lab.format, lab.info = im.format, {k: v for k, v in im.info.items() if k != "icc_profile"}
        return lab, True
    icc = im.info.get("icc_profile")
    if not icc or im.mode not in ("RGB", "RGBA", "CMYK", "L"):
        return im, False
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if "srgb" in ImageCms.getProfileDescription(source).lower().replace(" ", ""):
            return im, False
        target = "RGBA" if im.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(im, source, ImageCms.createProfile("sRGB"), outputMode=target)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return im, False  # an unreadable profile: the pixels are used as they are
    assert converted is not None
    converted.format, converted.info = im.format, {k: v for k, v in im.info.items() if k != "icc_profile"}
    return converted, True


def unreadable(exc: Exception, what: str) -> DecodeFailure:
    """A Pillow error on damaged bytes as a reason: TOO_LARGE for a decompression bomb (a
    compressed PNG metadata chunk that inflates past Pillow's cap, or a frame past its pixel
    guard), TRUNCATED when the data ends early, UNSUPPORTED for a variant Pillow does not
    implement, CORRUPT otherwise."""
    if isinstance(exc, ValueError) and _BOMB_MESSAGE in str(exc):
        return DecodeFailure(Reason.TOO_LARGE, f"a compressed metadata chunk inflates past {PngImagePlugin.MAX_TEXT_CHUNK} bytes")
    if isinstance(exc, Image.DecompressionBombError):
        return DecodeFailure(Reason.TOO_LARGE, f"{what}: {exc}")
    if isinstance(exc, OSError) and "truncated" in str(exc).lower():
        return DecodeFailure(Reason.TRUNCATED, f"{what}: {exc}")
    if isinstance(exc, NotImplementedError):  # a variant of the format Pillow does not decode (a DDS pixel format)
        return DecodeFailure(Reason.UNSUPPORTED, f"{what}: {exc}")
    return DecodeFailure(Reason.CORRUPT, f"{what}: {type(exc).__name__}: {exc}")


@contextlib.contextmanager
def _own_pixel_limit() -> Iterator[None]:
    """Pillow's global decompression-bomb guard off: `max_pixels` (checked on the header) is the limit."""
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def to_8bit(im: Image.Image) -> Image.Image:
    """16-bit and float greyscale scaled (not clipped) to 8-bit 'L'; other modes unchanged."""
    if im.mode.startswith("I;16") or im.mode == "I":
        arr = np.asarray(im, dtype=np.float64)
        scale = 257.0 if (im.mode.startswith("I;16") or arr.max(initial=0) > 255) else 1.0
        return Image.fromarray(np.clip(arr / scale, 0, 255).round().astype(np.uint8), "L")
    if im.mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        top = 1.0 if arr.max(initial=0) <= 1.0 else 255.0
        return Image.fromarray(np.clip(arr / top * 255, 0, 255).round().astype(np.uint8), "L")
    return im


def to_rgb(im: Image.Image) -> Image.Image:
    """RGB with any alpha or transparent colour composited on white (transparent pixels have no
    defined colour). The result carries no
    transparency (a PNG of RGB could not store a palette index as one)."""
    im = to_8bit(im)
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        out = Image.alpha_composite(canvas, rgba).convert("RGB")
    else:
        out = im.convert("RGB")
    out.info.pop("transparency", None)
    return out


def upright(im: Image.Image) -> Image.Image:
    """`im` as its EXIF orientation says it is shown; as stored when the EXIF block is unreadable
    (a damaged tag says nothing about the pixels)."""
    try:
        return ImageOps.exif_transpose(im)
    except PILLOW_ERRORS:
        return im


def fit_within(im: Image.Image, max_side: int) -> Image.Image:
    """Downscale so the longer side is at most `max_side`; never upscales."""
    w, h = im.size
    scale = max_side / max(w, h)
    if scale >= 1:
        return im
    return im.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)


def gray_preview(im: Image.Image, side: int = 512) -> Image.Image:
    """8-bit greyscale, longer side ≤ `side`: a fast box reduction first, Lanczos for the last step."""
    gray = to_8bit(im).convert("L")
    factor = max(gray.size) // (2 * side)
    return fit_within(gray.reduce(factor) if factor >= 2 else gray, side)


def image_metrics(im: Image.Image, preview: Image.Image | None = None) -> dict[str, float]:
    """Resolution, sharpness (variance of the Laplacian) and exposure (mean, clipped share),
    measured on the ≤512 px greyscale `preview` (made here when not given)."""
    gray = np.asarray(preview if preview is not None else gray_preview(im), dtype=np.float32) / 255.0
    lap = np.zeros_like(gray)
    if gray.shape[0] > 2 and gray.shape[1] > 2:
        lap[1:-1, 1:-1] = (
            gray[:-2, 1:-1] + gray[2:, 1:-1] + gray[1:-1, :-2] + gray[1:-1, 2:] - 4 * gray[1:-1, 1:-1]
        )
    w, h = im.info.get("source_size", im.size)
    return {
        "width": float(w),
        "height": float(h),
        "blur_var": float(lap.var()),
        "brightness": float(gray.mean()),
        "clipped_share": float(((gray < 0.02) | (gray > 0.98)).mean()),
    }


def dhash(im: Image.Image, size: int = 8) -> int:
    """64-bit difference hash: near-identical pictures differ in few bits (pass a preview: faster)."""
    small = np.asarray(to_8bit(im).convert("L").resize((size + 1, size), Image.Resampling.LANCZOS), dtype=np.int16)
    return _bits_to_int(small[:, 1:] > small[:, :-1])


def phash(im: Image.Image, size: int = 8, scale: int = 4) -> int:
    """64-bit perceptual hash: the signs, against their median, of the lowest 8×8 DCT frequencies
    of a 32×32 greyscale copy (DC left out of the median). Steadier than dHash under
    re-encoding, gamma and small crops; same Hamming-radius use (pass a preview: faster)."""
    n = size * scale
    small = np.asarray(to_8bit(im).convert("L").resize((n, n), Image.Resampling.LANCZOS), dtype=np.float64)
    basis = _dct_basis(n)[:size]
    low = basis @ small @ basis.T  # the 2-D orthonormal DCT-II, its lowest size × size block only
    return _bits_to_int(low > np.median(low.flatten()[1:]))


@functools.cache
def _dct_basis(n: int) -> np.ndarray:
    """The orthonormal DCT-II matrix of order `n` (row k: frequency k), as scipy's `dct(norm="ortho")`."""
    k, i = np.arange(n)[:, None], np.arange(n)[None, :]
    basis = np.sqrt(2.0 / n) * np.cos(np.pi * (2 * i + 1) * k / (2 * n))
    basis[0] /= np.sqrt(2.0)
    return basis


def _bits_to_int(bits: np.ndarray) -> int:
    return int.from_bytes(np.packbits(bits.flatten()).tobytes(), "big")


def canonical_image(
    im: Image.Image, max_side: int, png_level: int = 1, jpeg_quality: int = 90
) -> tuple[bytes, tuple[int, int], str]:
    """The canonical form of a decoded image: upright (EXIF orientation applied), RGB, longer
    side ≤ `max_side`, as deterministic bytes in the format its source calls for; its size and
    format (one of CANONICAL_FORMATS)."""
    fmt = CANONICAL_JPEG if im.format in LOSSY_SOURCES else CANONICAL_PNG
    out = fit_within(to_rgb(upright(im)), max_side)
    return encode_canonical(out, fmt, png_level, jpeg_quality), out.size, fmt


def encode_canonical(im: Image.Image, fmt: str, png_level: int = 1, jpeg_quality: int = 90) -> bytes:
    """`im` (RGB) as canonical bytes of `fmt`."""
    return encode_jpeg(im, jpeg_quality) if fmt == CANONICAL_JPEG else encode_png(im, png_level)


def encode_png(im: Image.Image, level: int = 1) -> bytes:
    """Deterministic PNG bytes: same pixels and level → same bytes. Level 1 encodes ~3x faster
    than 6 for ~10% more bytes (measured on a 512 px photo)."""
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=False, compress_level=level)
    return buf.getvalue()


def encode_jpeg(im: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=quality, optimize=False)
    return buf.getvalue()
