"""image.decode applies an embedded ICC profile that is not sRGB (colours as a display shows
them), and caps the frames of animations and multi-page files."""

from __future__ import annotations

import io
import struct

import numpy as np
from PIL import Image

from tessera.core.decode.image import open_image
from tessera.core.ops.cleaned.image_decode import ImageDecode
from tessera.core.records import Quarantined, Reason, Sample


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _rgb_profile(name: str, red: tuple, green: tuple, blue: tuple, gamma: float) -> bytes:
    """A minimal ICC v2 RGB matrix/TRC display profile (D50 white), as colour management reads it."""

    def xyz(v: tuple) -> bytes:
        return b"XYZ \0\0\0\0" + b"".join(_s15(c) for c in v)

    desc = name.encode() + b"\0"
    tags = {
        b"desc": b"desc\0\0\0\0" + struct.pack(">I", len(desc)) + desc + b"\0" * 12 + b"\0" * 67,
        b"wtpt": xyz((0.9642, 1.0, 0.8249)),
        b"rXYZ": xyz(red), b"gXYZ": xyz(green), b"bXYZ": xyz(blue),
        **{t: b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0" for t in (b"rTRC", b"gTRC", b"bTRC")},
        b"cprt": b"text\0\0\0\0" + b"none\0\0\0\0",
    }  # fmt: skip
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for sig, body in tags.items():
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body + b"\0" * (-len(body) % 4)
    header = bytearray(128)
    struct.pack_into(">I4sI4s4s4s", header, 0, 128 + 4 + len(table) + len(data), b"lcms", 0x02100000, b"mntr", b"RGB ", b"XYZ ")
    header[36:40] = b"acsp"
    header[68:80] = _s15(0.9642) + _s15(1.0) + _s15(0.8249)
    return bytes(header) + struct.pack(">I", len(tags)) + table + data


WIDE = _rgb_profile("Wide Gamut Test RGB", (0.6097, 0.3111, 0.0195), (0.2053, 0.6257, 0.0609), (0.1492, 0.0632, 0.7446), 2.2)  # Adobe RGB (1998) primaries


def _png(colour: tuple[int, int, int], icc: bytes | None) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), colour).save(buf, "PNG", icc_profile=icc)
    return buf.getvalue()


def _decoded(make_sample, data: bytes) -> Sample:
    (out,) = ImageDecode().apply([make_sample(image=data)], None)
    assert isinstance(out, Sample), out
    return out


def _pixel(s: Sample) -> np.ndarray:
    return np.asarray(open_image(s.media["image"], max_pixels=1 << 30))[32, 32].astype(int)


def test_a_wide_gamut_profile_is_applied_and_srgb_left_alone(make_sample) -> None:
    green = (40, 180, 40)
    converted = _decoded(make_sample, _png(green, WIDE))
    plain = _decoded(make_sample, _png(green, None))
    assert converted.metrics["icc_converted"] == 1.0 and plain.metrics["icc_converted"] == 0.0
    assert (_pixel(plain) == green).all()
    wide = _pixel(converted)
    assert wide[0] < green[0] - 20 and wide[2] < green[2] - 20  # Adobe RGB's green is greener than sRGB's: it reads more saturated
    red = _pixel(_decoded(make_sample, _png((200, 40, 40), WIDE)))
    assert red[0] > 215
    grey = _pixel(_decoded(make_sample, _png((128, 128, 128), WIDE)))
    assert np.ptp(grey) <= 2  # neutral stays neutral


def test_animations_over_the_frame_cap_are_too_large_and_under_it_keep_their_first_frame(make_sample) -> None:
    frames = [Image.new("RGB", (40, 40), (i * 20, 0, 0)) for i in range(6)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=50)
    out = _decoded(make_sample, buf.getvalue())
    assert out.metrics["source_frames"] == 6.0
    (capped,) = ImageDecode(max_frames=4).apply([make_sample(image=buf.getvalue())], None)
    assert isinstance(capped, Quarantined) and capped.reason is Reason.TOO_LARGE and "more than 4 frames" in capped.detail
    tiff = io.BytesIO()
    frames[0].save(tiff, "TIFF", save_all=True, append_images=frames[1:3])
    assert _decoded(make_sample, tiff.getvalue()).metrics["source_frames"] == 3.0
