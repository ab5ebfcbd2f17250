"""The bad-input corpus, generated at test time (Pillow, PyAV, numpy, soundfile, raw bytes).

`build(root)` writes landing drop `a` (every kind below, each file alone under its own stem)
and drop `b` (content shared with `a`), and returns the kinds with what each must become.
A kind names the one input whose fate it checks (a file name, or a manifest key such as
`manifest.csv#3` / `manifest.csv#3:../x.png`) and the expected outcome: the reason code of the
stage that sets it aside, or `landed` (valid but unusual input that must survive every stage run).
"""

from __future__ import annotations

import io
import os
import struct
import unicodedata
import wave
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

import av
import numpy as np
import skimage.data
import soundfile
from PIL import Image

LANDED = "landed"
BIG_LINE_BYTES = 100 * 1024 * 1024  # one 100 MiB line: far over text.decode's max_bytes, and a memory test


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of input and the outcome it must have."""

    id: str  # the pytest id
    input: str  # the input whose fate is checked (file name or manifest key)
    expect: str  # a reason code, or LANDED
    stage: str | None = None  # the stage that quarantines it (None when it lands)
    modalities: tuple[str, ...] = ()  # for a landed kind: the modalities its row must carry (when it matters)
    broken: str | None = None  # set while the current code gets it wrong: the observed outcome, and why
    note: str = ""


# -- media builders ------------------------------------------------------------------------------


def photo(size: tuple[int, int], name: str = "astronaut") -> Image.Image:
    """A scikit-image photo as RGB at `size`. Each landed picture of the drop is another photo:
    `unified` sets near-duplicates aside (image.near_dup), and that is not what these kinds test."""
    return Image.fromarray(getattr(skimage.data, name)()).convert("RGB").resize(size, Image.Resampling.LANCZOS)


def image_bytes(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def tone(seconds: float, rate: int, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def wav_bytes(x: np.ndarray, rate: int, sampwidth: int = 2, channels: int = 1) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(sampwidth)
        w.setframerate(rate)
        frames = np.repeat(np.clip(x, -1, 1)[:, None], channels, axis=1)
        if sampwidth == 1:  # unsigned 8-bit: silence is 128
            w.writeframes((frames * 127 + 128).astype(np.uint8).tobytes())
        else:
            w.writeframes((frames * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def flac_bytes(x: np.ndarray, rate: int) -> bytes:
    buf = io.BytesIO()
    soundfile.write(buf, x, rate, format="FLAC", subtype="PCM_16")
    return buf.getvalue()


def mux_audio(container: av.container.OutputContainer, stream: av.AudioStream, x: np.ndarray, rate: int) -> None:
    """Mono samples `x` at `rate` encoded into `stream` of `container` (resampled to its codec's format and rate)."""
    resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="mono", rate=stream.codec_context.sample_rate)
    pcm = (np.clip(x, -1, 1) * 32767).astype(np.int16)
    for k in range(0, len(pcm), 1024):
        frame = av.AudioFrame.from_ndarray(pcm[None, k : k + 1024], format="s16", layout="mono")
        frame.sample_rate, frame.pts = rate, k
        for f in resampler.resample(frame):
            for p in stream.encode(f):
                container.mux(p)
    for f in resampler.resample(None):
        for p in stream.encode(f):
            container.mux(p)
    for p in stream.encode(None):
        container.mux(p)


def mux_moving(container: av.container.OutputContainer, stream: av.VideoStream, frames: int) -> None:
    """`frames` frames of a moving colour gradient (every frame differs) encoded into `stream`."""
    yy, xx = np.mgrid[0 : stream.height, 0 : stream.width]
    for i in range(frames):
        img = np.stack([(xx + 4 * i) % 256, (yy + 8 * i) % 256, np.full_like(xx, 9 * i % 256)], axis=-1).astype(np.uint8)
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts = i
        for p in stream.encode(frame):
            container.mux(p)
    for p in stream.encode(None):
        container.mux(p)


def mp3_bytes(x: np.ndarray, rate: int) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp3") as c:
        mux_audio(c, c.add_stream("libmp3lame", rate=rate, layout="mono"), x, rate)
    return buf.getvalue()


def matroska_audio(x: np.ndarray, fmt: str = "webm", attachment: bytes | None = None) -> bytes:
    """Opus in WebM/Matroska, no video track; optionally a Matroska attachment (a cover picture)."""
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as c:
        stream = c.add_stream("libopus", rate=48_000, layout="mono")
        if attachment is not None:
            c.add_attachment("cover.jpg", "image/jpeg", attachment)
        mux_audio(c, stream, x, 48_000)
    return buf.getvalue()


def mp4_bytes(seconds: float = 1.0, fps: int = 10, size: tuple[int, int] = (64, 48), audio: bool = True, fmt: str = "mp4") -> bytes:
    """H.264 frames of a moving gradient (+ an AAC tone)."""
    w, h = size
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as c:
        v = c.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        v.options = {"preset": "ultrafast", "tune": "zerolatency"}
        a = c.add_stream("aac", rate=16_000, layout="mono") if audio else None
        mux_moving(c, v, max(1, int(seconds * fps)))
        if a is not None:
            mux_audio(c, a, tone(seconds, 16_000, 330.0), 16_000)
    return buf.getvalue()


def mp4_layout(movflags: str, frames: int = 20, gop: int = 2) -> bytes:
    """H.264 MP4 of `frames` frames at 10 fps, a keyframe every `gop`, with the given `movflags`
    (`faststart`: the index before the data; `frag_keyframe+empty_moov`: fragmented)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:  # faststart rewrites the file: it needs a real one
        path = os.path.join(tmp, "out.mp4")
        with av.open(path, "w", format="mp4", options={"movflags": movflags}) as c:
            v = c.add_stream("libx264", rate=10)
            v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
            v.options = {"preset": "ultrafast", "g": str(gop)}
            mux_moving(c, v, frames)
        with open(path, "rb") as fh:
            return fh.read()


def zero_timescale(mp4: bytes) -> bytes:
    """`mp4` with its first track's media timescale (mdhd) set to 0: no timestamp means anything."""
    data = bytearray(mp4)
    at = data.index(b"mdhd")
    assert data[at + 4] == 0, "mdhd version 0 expected"
    data[at + 16 : at + 20] = b"\0\0\0\0"
    return bytes(data)


def png_with_chunk(png: bytes, kind: bytes, body: bytes) -> bytes:
    """`png` with one more chunk right after IHDR."""
    return png[:33] + _chunk(kind, body) + png[33:]


def inflating_to(n: int) -> bytes:
    """zlib data that inflates to `n` zero bytes (made a MiB at a time)."""
    z, zeros = zlib.compressobj(9), bytes(1 << 20)
    return b"".join(z.compress(zeros) for _ in range(n >> 20)) + z.flush()


def subtitles_only(fmt: str) -> bytes:
    """A container (mp4: mov_text, matroska: subrip) holding a subtitle track and nothing else."""
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as c:
        s = c.add_stream("mov_text" if fmt == "mp4" else "subrip")
        s.codec_context.time_base = Fraction(1, 1000)
        s.codec_context.subtitle_header = (
            b"[Script Info]\nScriptType: v4.00+\n\n[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
        )
        for start, text in ((0, "nobody"), (1000, "here")):
            sub = av.subtitles.subtitle.SubtitleSet.create(text=f"0,0,Default,,0,0,0,,{text}".encode(), start=0, end=800, pts=start)
            pkt = s.codec_context.encode_subtitle(sub)
            pkt.stream = s
            pkt.time_base = Fraction(1, 1000)
            pkt.pts = pkt.dts = start
            pkt.duration = 800
            c.mux(pkt)
    return buf.getvalue()


def single_frame_video() -> bytes:
    """A Matroska video of one MJPEG frame (a still: one keyframe, no motion to measure)."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="matroska") as c:
        v = c.add_stream("mjpeg")
        v.width, v.height, v.pix_fmt = 64, 48, "yuvj420p"
        frame = av.VideoFrame.from_ndarray(np.asarray(photo((64, 48))), format="rgb24").reformat(format="yuvj420p")
        frame.pts = 0
        for p in v.encode(frame):
            c.mux(p)
        for p in v.encode(None):
            c.mux(p)
    return buf.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int) -> bytes:
    """A well-formed PNG whose IHDR declares width x height (8-bit grey) over a few bytes of IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _chunk(b"IEND", b"")


def gif_declaring(width: int, height: int) -> bytes:
    """A GIF whose logical screen is width x height, holding one 1x1 picture."""
    return (
        b"GIF89a" + struct.pack("<HH", width, height) + b"\x80\x00\x00" + b"\xff\xff\xff\x00\x00\x00"
        + b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3b"
    )  # fmt: skip


def tiff_declaring(width: int, height: int) -> bytes:
    """A baseline TIFF (8-bit grey, one strip) whose IFD declares width x height over 16 bytes of data."""
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, 8 + 2 + 9 * 12 + 4), (277, 3, 1, 1), (278, 4, 1, height), (279, 4, 1, 16)]  # fmt: skip
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHI", tag, typ, n) + (struct.pack("<HH", v, 0) if typ == 3 else struct.pack("<I", v)) for tag, typ, n, v in entries
    )
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + b"\x80" * 16


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small real JPEG whose SOF0 header is patched to declare width x height."""
    data = bytearray(image_bytes(photo((64, 48)), "JPEG", quality=80))
    at = data.index(b"\xff\xc0")
    data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def bmp_declaring(width: int, height: int) -> bytes:
    data = bytearray(image_bytes(photo((8, 8)), "BMP"))
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


def wav_declaring_seconds(declared_s: float, x: np.ndarray, rate: int) -> bytes:
    """A 16-bit mono WAV whose RIFF and data sizes declare `declared_s` seconds; it holds `x`."""
    body = wav_bytes(x, rate)
    declared = int(declared_s * rate) * 2
    at = body.index(b"data")
    return b"RIFF" + struct.pack("<I", at - 8 + 8 + declared) + body[8:at] + b"data" + struct.pack("<I", declared) + body[at + 8 :]


def id3_with_cover(mp3: bytes, cover: bytes) -> bytes:
    """`mp3` with its ID3v2 tag (if any) replaced by an ID3v2.3 tag holding an APIC front cover."""
    if mp3.startswith(b"ID3"):
        size = int.from_bytes(bytes(b & 0x7F for b in mp3[6:10]), "big")
        mp3 = mp3[10 + size :]
    apic = b"\x00image/jpeg\x00\x03cover\x00" + cover
    frame = b"APIC" + struct.pack(">I", len(apic)) + b"\x00\x00" + apic
    n = len(frame)
    syncsafe = bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])
    return b"ID3\x03\x00\x00" + syncsafe + frame + mp3


def flac_with_picture(flac: bytes, cover: bytes) -> bytes:
    """`flac` with a METADATA_BLOCK_PICTURE (front cover JPEG) right after STREAMINFO."""
    assert flac[:4] == b"fLaC"
    streaminfo_len = int.from_bytes(flac[5:8], "big")
    end = 8 + streaminfo_len
    pic = struct.pack(">I", 3) + struct.pack(">I", 10) + b"image/jpeg" + struct.pack(">I", 5) + b"cover"
    pic += struct.pack(">IIII", 64, 48, 24, 0) + struct.pack(">I", len(cover)) + cover
    first = bytes([flac[4] & 0x7F]) + flac[5:end]  # STREAMINFO is no longer the last block
    last_flag = flac[4] & 0x80
    block = bytes([6 | last_flag]) + len(pic).to_bytes(3, "big") + pic
    return flac[:4] + first + block + flac[end:]


def random_bytes(n: int, seed: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


# -- the drops -----------------------------------------------------------------------------------

MANIFEST = "manifest.csv"


def build(root: Path | None) -> tuple[dict[str, Path], list[Kind]]:
    """The kinds; given a `root`, also write drops `a` and `b` under it (bytes are made only then,
    so listing the kinds costs nothing). Returns ({batch: drop dir}, kinds)."""
    base = root if root is not None else Path("/nonexistent")
    a, b = base / "a", base / "b"
    kinds: list[Kind] = []

    def put(name: str, make: Callable[[], bytes], drop: Path = a) -> None:
        if root is None:
            return
        path = drop / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(make())

    def kind(id_: str, name: str, make: Callable[[], bytes] | None, expect: str, stage: str | None = None, **kw: Any) -> None:
        if make is not None:
            put(name, make)
        kinds.append(Kind(id_, name, expect, stage, **kw))

    png = cache(lambda: image_bytes(photo((192, 128)), "PNG"))
    jpeg = cache(lambda: image_bytes(photo((192, 128), "chelsea"), "JPEG", quality=85))
    wav = cache(lambda: wav_bytes(tone(1.0, 16_000), 16_000))
    flac = cache(lambda: flac_bytes(tone(1.0, 16_000, 550.0), 16_000))
    mp4 = cache(lambda: mp4_bytes(1.0))
    faststart = cache(lambda: mp4_layout("faststart", frames=10, gop=10))
    fragmented = cache(lambda: mp4_layout("frag_keyframe+empty_moov"))
    cover = cache(lambda: image_bytes(photo((64, 48), "coffee"), "JPEG", quality=70))
    png_small = cache(lambda: image_bytes(photo((64, 48)), "PNG"))

    # zero bytes, per modality: nothing to sniff
    for ext in ("png", "wav", "mp4", "txt", "srt"):
        kind(f"zero-byte-{ext}", f"empty/zero_{ext}.{ext}", lambda: b"", "EMPTY", "raw")

    # truncated at 10 / 50 / 90 % of the file
    # a cut file keeps what decodes from min_recovered_share (0.5) of its declared length: recovered_share on the row
    recovered = {"wav-90": ("audio",), "flac-90": ("audio",), "mp4-faststart-90": ("video",)}
    for label, data, ext, cuts in (
        ("png", png, "png", (10, 50, 90)),
        ("jpeg", jpeg, "jpg", (10, 50, 90)),
        ("wav", wav, "wav", (10, 50, 90)),
        ("flac", flac, "flac", (10, 50, 90)),
        ("mp4", mp4, "mp4", (10, 50, 90)),
        ("mp4-faststart", faststart, "mp4", (10, 50, 90)),
        ("mp4-fragmented", fragmented, "mp4", (50,)),
    ):
        for pct in cuts:
            key = f"{label}-{pct}"
            cut = lambda d=data, p=pct: d()[: len(d()) * p // 100]
            if key in recovered:
                kind(f"truncated-{key}", f"truncated/{key}.{ext}", cut, LANDED, modalities=recovered[key])
            else:
                kind(f"truncated-{key}", f"truncated/{key}.{ext}", cut, "TRUNCATED", "cleaned")

    # random bytes under media names (the name claims a modality the bytes do not have); and under no name
    for i, ext in enumerate(("png", "jpg", "wav", "flac", "mp4", "mkv")):
        kind(f"random-bytes-{ext}", f"random/noise_{ext}.{ext}", lambda seed=100 + i: random_bytes(4096, seed), "CORRUPT", "raw")
    kind("random-bytes-no-suffix", "random/noise_bin", lambda: random_bytes(4096, 99), "UNSUPPORTED", "raw")
    kind("html-named-jpg", "random/page.jpg", lambda: b"<!doctype html><html><body>not a picture</body></html>\n", "CORRUPT", "raw")

    # valid files under the wrong name: the bytes decide
    kind("png-named-jpg", "misnamed/png_as.jpg", lambda: image_bytes(photo((96, 64), "coffee"), "PNG"), LANDED, modalities=("image",))
    kind("jpeg-named-png", "misnamed/jpeg_as.png", lambda: image_bytes(photo((96, 64), "rocket"), "JPEG"), LANDED, modalities=("image",))
    kind("wav-named-mp4", "misnamed/wav_as.mp4", lambda: wav_bytes(tone(1.0, 16_000, 660.0), 16_000), LANDED, modalities=("audio",))
    kind("mp4-named-wav", "misnamed/mp4_as.wav", lambda: mp4_bytes(1.0, size=(48, 48)), LANDED, modalities=("audio", "video"))
    kind("png-no-suffix", "misnamed/png_without_suffix", lambda: image_bytes(photo((80, 64), "horse"), "PNG"), LANDED, modalities=("image",))
    kind("utf16-text", "misnamed/utf16_note.txt", lambda: "a caption in UTF-16".encode("utf-16"), LANDED, modalities=("text",),
         note="FF FE once passed for an MPEG audio frame header: it went to the audio decoder as CORRUPT audio; text.decode takes a byte-order mark's encoding")  # fmt: skip

    # decompression bombs and huge declared sizes: refused from the header, never allocated
    kind("bomb-png-50000x50000", "bombs/png_50000.png", lambda: png_declaring(50_000, 50_000), "TOO_LARGE", "cleaned")
    kind("bomb-gif-screen-65535", "bombs/gif_screen.gif", lambda: gif_declaring(65_535, 65_535), "TOO_LARGE", "cleaned")
    kind("bomb-tiff-100000", "bombs/tiff_huge.tif", lambda: tiff_declaring(100_000, 100_000), "TOO_LARGE", "cleaned")
    kind("bomb-png-ztxt", "bombs/ztxt.png", lambda: png_with_chunk(png_small(), b"zTXt", b"Comment\0\0" + inflating_to(64 << 20)), "TOO_LARGE", "cleaned")
    kind("bomb-png-iccp", "bombs/iccp.png", lambda: png_with_chunk(png_small(), b"iCCP", b"icc\0\0" + inflating_to(64 << 20)), "TOO_LARGE", "cleaned")
    kind("huge-jpeg-header", "bombs/jpeg_65000.jpg", lambda: jpeg_declaring(65_000, 65_000), "TOO_LARGE", "cleaned")
    kind("huge-bmp-header", "bombs/bmp_huge.bmp", lambda: bmp_declaring(60_000, 60_000), "TOO_LARGE", "cleaned")
    kind("wav-header-10h-holds-1s", "bombs/wav_10h.wav", lambda: wav_declaring_seconds(36_000, tone(1.0, 16_000, 770.0), 16_000), "TRUNCATED", "cleaned",
         note="the header promises 10 h: nothing may be allocated for it (memory test), and the shortfall is truncation")  # fmt: skip
    kind("video-over-pixel-limit", "bombs/video_4096x2160.mp4", lambda: mp4_bytes(0.2, fps=10, size=(4096, 2160), audio=False), "TOO_LARGE", "cleaned")

    # streams: none of the expected kind, or extra ones
    kind("mp4-subtitles-only", "streams/subs_only.mp4", lambda: subtitles_only("mp4"), "NO_STREAM", "cleaned")
    kind("mkv-subtitles-only", "streams/subs_only.mkv", lambda: subtitles_only("matroska"), "NO_STREAM", "cleaned")
    kind("video-zero-timescale", "streams/zero_timescale.mp4", lambda: zero_timescale(mp4_bytes(1.0, audio=False, size=(48, 48))), "CORRUPT", "cleaned",
         note="a zero media timescale (invalid in ISO-BMFF): 1 of the 10 frames its index lists decodes")  # fmt: skip
    kind("video-single-frame", "streams/one_frame.mkv", single_frame_video, LANDED, modalities=("video",))
    kind("video-without-audio", "streams/silent_video.mp4", lambda: mp4_bytes(1.0, audio=False, size=(48, 32)), LANDED, modalities=("video",))
    kind("mp3-with-cover", "streams/cover.mp3", lambda: id3_with_cover(mp3_bytes(tone(1.0, 16_000, 880.0), 16_000), cover()), LANDED, modalities=("audio",))
    kind("flac-with-picture", "streams/cover.flac", lambda: flac_with_picture(flac_bytes(tone(1.0, 16_000, 990.0), 16_000), cover()), LANDED, modalities=("audio",))
    kind("webm-audio-only", "streams/voice.webm", lambda: matroska_audio(tone(1.0, 48_000, 300.0)), LANDED, modalities=("audio",),
         note="sniffed as video (WebM magic) and set aside NO_STREAM until the sniffer read the Matroska track types")  # fmt: skip
    kind("mka-audio-with-attachment", "streams/song.mka", lambda: matroska_audio(tone(1.0, 48_000, 350.0), "matroska", attachment=cover()), LANDED,
         modalities=("audio",), note="once landed as a one-frame video of its cover picture")  # fmt: skip
    kind("wav-header-only", "streams/no_samples.wav", lambda: wav_bytes(np.zeros(0, np.float32), 16_000), "EMPTY", "cleaned")
    kind("wav-8bit-6ch", "streams/u8_6ch.wav", lambda: wav_bytes(tone(1.0, 8_000, 400.0), 8_000, sampwidth=1, channels=6), LANDED)

    # text: encodings, control characters, size
    kind("text-latin1", "text/latin1.txt", lambda: "crème brûlée à la carte".encode("latin-1"), "BAD_ENCODING", "cleaned")
    kind("text-shift-jis", "text/shift_jis.txt", lambda: "日本語のキャプションです".encode("shift_jis"), "BAD_ENCODING", "cleaned")
    kind("text-nul-bytes", "text/nul.txt", lambda: b"a caption\x00with a NUL\x00inside", "BAD_ENCODING", "cleaned")
    kind("text-utf8-bom", "text/bom.txt", lambda: "\ufeffa caption behind a byte-order mark".encode(), LANDED)
    kind("text-whitespace-only", "text/blank.txt", lambda: b" \n\t\r\n  ", "EMPTY", "cleaned")
    kind("text-zero-width-only", "text/zero_width_only.txt", lambda: "\u200b\u200c\u200d\ufeff\u2060".encode(), "EMPTY", "cleaned",
         note="five invisible characters: nothing a reader sees")  # fmt: skip
    kind("text-rtl", "text/rtl.txt", lambda: "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd \u0645\u0631\u062d\u0628\u0627 \u202eevil\u202c".encode(), LANDED)
    kind("text-zero-width-inside", "text/zwj.txt", lambda: "a family \U0001f468\u200d\U0001f469\u200d\U0001f467 and a soft\u00adhyphen".encode(), LANDED)
    kind("text-100mb-single-line", "text/huge_line.txt", None, "TOO_LARGE", "cleaned")
    if root is not None:
        _write_big_line(a / "text/huge_line.txt")
    kind("subtitles-latin1", "text/latin1_subs.srt", lambda: "1\n00:00:01,000 --> 00:00:02,000\ncrème\n".encode("latin-1"), "BAD_ENCODING", "cleaned")
    kind("subtitles-no-cue", "text/no_cue.srt", lambda: b"just some words, no timings\n", "CORRUPT", "cleaned")
    kind("subtitles-without-media", "text/lonely.srt", lambda: b"1\n00:00:01,000 --> 00:00:02,500\nnobody to align with\n", "UNPAIRED", "aligned",
         note="timed cues with nothing to time them against (pair.check)")  # fmt: skip

    # images that are valid but unusual
    grey16 = lambda: image_bytes(Image.fromarray(np.linspace(0, 65535, 96 * 64).reshape(64, 96).astype(np.uint16)), "PNG")
    kind("png-16bit-grey", "images/grey16.png", grey16, LANDED)
    kind("jpeg-cmyk", "images/cmyk.jpg", lambda: image_bytes(photo((96, 64), "brick").convert("CMYK"), "JPEG"), LANDED)
    kind("gif-animated", "images/anim.gif", _animated_gif, LANDED)
    kind("jpeg-trailing-garbage", "images/trailing.jpg", lambda: image_bytes(photo((96, 64), "camera"), "JPEG") + random_bytes(512, 7), LANDED)
    kind("png-bad-crc", "images/bad_crc.png", lambda: _break_crc(image_bytes(photo((96, 64), "astronaut"), "PNG")), "CORRUPT", "cleaned")
    kind("png-1x1", "images/one_pixel.png", lambda: image_bytes(Image.new("RGB", (1, 1), (255, 0, 0)), "PNG"), "LOW_QUALITY", "cleaned")

    # names: data, never paths
    kind("name-with-newline", "names/new\nline.png", lambda: image_bytes(photo((96, 64), "gravel"), "PNG"), LANDED)
    nfc, nfd = unicodedata.normalize("NFC", "names/café.png"), unicodedata.normalize("NFD", "names/café.png")
    kind("name-nfc-twin", nfc, lambda: image_bytes(photo((96, 64), "immunohistochemistry"), "PNG"), LANDED)
    kind("name-nfd-twin", nfd, lambda: image_bytes(photo((96, 64), "hubble_deep_field"), "PNG"), LANDED)
    kind("name-very-long", "names/" + "x" * 240 + ".png", lambda: image_bytes(photo((96, 64), "page"), "PNG"), LANDED)
    kinds.append(Kind("name-not-utf8", "names/latin1_\\xe9.png", LANDED))  # the name as the drop lists it: escaped
    kinds.append(Kind("symlink-out-of-drop", "names/escape_link.png", "BAD_PATH", "raw"))
    if root is not None:
        with open(os.fsencode(a / "names") + b"/latin1_\xe9.png", "wb") as fh:  # a name that is not UTF-8
            fh.write(image_bytes(photo((96, 64), "moon"), "PNG"))
        os.symlink("/etc/hostname", a / "names/escape_link.png")

    # duplicates: within the batch (the smaller source name holds it) and across batches (I6)
    dup = cache(lambda: image_bytes(photo((96, 64), "text"), "JPEG", quality=90))
    kind("duplicate-in-batch-holder", "dups/first.jpg", dup, LANDED)
    kind("duplicate-in-batch", "dups/second.jpg", dup, "DUPLICATE", "raw")
    shared = cache(lambda: image_bytes(photo((96, 64), "chelsea"), "JPEG", quality=75))
    kind("shared-across-batches", "dups/shared.jpg", shared, LANDED, note="batch b holds the same bytes: DUPLICATE there")
    put("shared_too.jpg", shared, b)
    put("own.png", lambda: image_bytes(photo((96, 64), "cell"), "PNG"), b)

    # captions without media
    kind("caption-file-without-media", "captions/alone.txt", lambda: b"a caption whose picture never arrived\n", LANDED,
         note="a text-only sample is a sample under pair.check require: any")  # fmt: skip

    # the manifest: paths are data
    put("manifest_media/paired.png", lambda: image_bytes(photo((96, 64), "astronaut"), "PNG"))
    put("manifest_media/voice.wav", lambda: wav_bytes(tone(1.0, 16_000, 500.0), 16_000))
    put("manifest_media/new\nline.jpg", lambda: image_bytes(photo((96, 64), "retina"), "JPEG", quality=60))
    rows = [
        {"sample": "m-ok", "image": "manifest_media/paired.png", "text": "an astronaut, paired by the manifest"},
        {"sample": "m-traversal", "image": "../x.png", "text": "escapes the drop"},
        {"sample": "m-absolute", "image": "/etc/passwd", "text": ""},
        {"sample": "m-windows", "image": "C:\\data\\x.png", "text": ""},
        {"sample": "m-missing", "image": "manifest_media/missing.png", "text": "its picture is missing"},
        {"sample": "m-caption-only", "image": "", "text": "a caption row with no media"},
        {"sample": "m-mislabelled", "image": "manifest_media/voice.wav", "text": "the manifest says image"},
        {"sample": "m-newline", "image": "manifest_media/new\nline.jpg", "text": "a file name with a newline"},
    ]
    put(MANIFEST, lambda: _csv(rows))
    m = {r["sample"]: f"{MANIFEST}#{i}" for i, r in enumerate(rows, start=2)}
    kinds += [
        Kind("manifest-row-ok", m["m-ok"], LANDED, modalities=("text", "image")),
        Kind("manifest-path-traversal", f"{m['m-traversal']}:../x.png", "BAD_PATH", "raw"),
        Kind("manifest-path-traversal-row", m["m-traversal"], "UNPAIRED", "raw", note="the row's caption is not landed without its picture"),
        Kind("manifest-absolute-path", f"{m['m-absolute']}:/etc/passwd", "BAD_PATH", "raw"),
        Kind("manifest-absolute-path-row", m["m-absolute"], "BAD_PATH", "raw",
             note="a row naming nothing usable fails for the reason its part did (it was EMPTY, 'names no usable file or text')"),  # fmt: skip
        Kind("manifest-windows-path", f"{m['m-windows']}:C:\\data\\x.png", "BAD_PATH", "raw"),
        Kind("manifest-missing-file", f"{m['m-missing']}:manifest_media/missing.png", "BAD_PATH", "raw"),
        Kind("manifest-missing-file-row", m["m-missing"], "UNPAIRED", "raw"),
        Kind("manifest-caption-only", m["m-caption-only"], LANDED, modalities=("text",)),
        Kind("manifest-mislabelled-media", "manifest_media/voice.wav", "CORRUPT", "raw"),
        Kind("manifest-name-with-newline", m["m-newline"], LANDED, modalities=("text", "image")),
    ]
    return {"a": a, "b": b}, kinds


def _write_big_line(path: Path) -> None:
    """One line of BIG_LINE_BYTES, written in pieces (the generator holds 1 MiB at a time)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    piece = (b"word " * (1 << 18))[: 1 << 20]
    with open(path, "wb") as fh:
        for _ in range(BIG_LINE_BYTES // len(piece)):
            fh.write(piece)


def _animated_gif() -> bytes:
    frames = [photo((64, 48), n).convert("P") for n in ("coins", "grass", "clock")]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


def _break_crc(png: bytes) -> bytes:
    at = png.index(b"IDAT") + 4
    return png[:at] + bytes([png[at] ^ 0xFF]) + png[at + 1 :]


def _csv(rows: list[dict[str, str]]) -> bytes:
    import csv

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["sample", "image", "text"], lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode()


