"""Image decoding with Pillow under a pixel cap and a format allow-list."""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

from core.decode import DecodeFailure
from core.records import Reason

ALLOWED_FORMATS = frozenset({"PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF"})


def open_image(data: bytes, *, max_pixels: int, allowed: frozenset[str] = ALLOWED_FORMATS) -> Image.Image:
    """Fully decode `data` (header checks first, so a huge image is refused before its pixels load)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise DecodeFailure(Reason.CORRUPT, f"not a readable image: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise DecodeFailure(Reason.CORRUPT, f"image header unreadable: {exc}") from None
    if im.format not in allowed:
        raise DecodeFailure(Reason.UNSUPPORTED, f"format {im.format} is not in the allow-list {sorted(allowed)}")
    w, h = im.size
    if w <= 0 or h <= 0:
        raise DecodeFailure(Reason.EMPTY, f"image has no pixels ({w}x{h})")
    if w * h > max_pixels:
        raise DecodeFailure(Reason.TOO_LARGE, f"{w}x{h} = {w * h} pixels > limit {max_pixels}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im.load()
    except OSError as exc:
        reason = Reason.TRUNCATED if "truncated" in str(exc).lower() else Reason.CORRUPT
        raise DecodeFailure(reason, f"pixel data unreadable: {exc}") from None
    except (SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise DecodeFailure(Reason.CORRUPT, f"pixel data unreadable: {type(exc).__name__}: {exc}") from None
    return im


def to_rgb(im: Image.Image) -> Image.Image:
    """RGB with any alpha composited on white (transparent pixels have no defined colour)."""
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return im.convert("RGB")


def fit_within(im: Image.Image, max_side: int) -> Image.Image:
    """Downscale so the longer side is at most `max_side`; never upscales."""
    w, h = im.size
    scale = max_side / max(w, h)
    if scale >= 1:
        return im
    return im.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)


def image_metrics(im: Image.Image) -> dict[str, float]:
    """Resolution, sharpness (variance of the Laplacian) and exposure (mean, clipped share)."""
    gray = np.asarray(fit_within(im.convert("L"), 512), dtype=np.float32) / 255.0
    lap = np.zeros_like(gray)
    if gray.shape[0] > 2 and gray.shape[1] > 2:
        lap[1:-1, 1:-1] = (
            gray[:-2, 1:-1] + gray[2:, 1:-1] + gray[1:-1, :-2] + gray[1:-1, 2:] - 4 * gray[1:-1, 1:-1]
        )
    w, h = im.size
    return {
        "width": float(w),
        "height": float(h),
        "blur_var": float(lap.var()),
        "brightness": float(gray.mean()),
        "clipped_share": float(((gray < 0.02) | (gray > 0.98)).mean()),
    }


def dhash(im: Image.Image, size: int = 8) -> int:
    """64-bit difference hash: near-identical pictures differ in few bits."""
    small = np.asarray(im.convert("L").resize((size + 1, size), Image.Resampling.LANCZOS), dtype=np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def encode_png(im: Image.Image) -> bytes:
    """Deterministic PNG bytes: same pixels → same bytes."""
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def encode_jpeg(im: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=quality, optimize=False)
    return buf.getvalue()
