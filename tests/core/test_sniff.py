"""core.sniff: type by magic bytes; the file name only decides between text formats."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
from PIL import Image

from tessera.core.sniff import Sniffed, claimed_modality, sniff


def _image(fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), 120, np.uint8)).save(buf, format=fmt, **kw)
    return buf.getvalue()


def _audio(fmt: str, codec: str, rate: int = 16000) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as c:
        s = c.add_stream(codec, rate=rate, layout="mono")
        s.bit_rate = 64000  # codecs with no default (wmav2) refuse to open without one
        resampler = av.AudioResampler(format=s.codec_context.format.name, layout="mono", rate=rate)
        x = (0.3 * np.sin(2 * np.pi * 440 * np.arange(rate // 4) / rate)).astype(np.float32)
        for k in range(0, len(x), 960):
            frame = av.AudioFrame.from_ndarray(x[None, k : k + 960], format="flt", layout="mono")
            frame.sample_rate, frame.pts = rate, k
            for f in resampler.resample(frame):
                for p in s.encode(f):
                    c.mux(p)
        for p in s.encode():
            c.mux(p)
    return buf.getvalue()


def _video(fmt: str, codec: str) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as c:
        s = c.add_stream(codec, rate=5)
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i * 60, np.uint8), format="rgb24")
            frame.pts = i
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: _image("PNG"), ("image", "png")),
        (lambda: _image("JPEG"), ("image", "jpeg")),
        (lambda: _image("GIF"), ("image", "gif")),
        (lambda: _image("WEBP"), ("image", "webp")),
        (lambda: _image("BMP"), ("image", "bmp")),
        (lambda: _image("TIFF"), ("image", "tiff")),
        (lambda: _audio("wav", "pcm_s16le"), ("audio", "wav")),
        (lambda: _audio("flac", "flac"), ("audio", "flac")),
        (lambda: _audio("ogg", "libopus", 48000), ("audio", "ogg")),
        (lambda: _audio("mp3", "libmp3lame"), ("audio", "mp3")),
        (lambda: _audio("ipod", "aac"), ("audio", "m4a")),
        (lambda: _video("mp4", "libx264"), ("video", "mp4")),
        (lambda: _video("mov", "libx264"), ("video", "mp4")),
        (lambda: _video("matroska", "libx264"), ("video", "mkv")),
        (lambda: _video("webm", "libvpx"), ("video", "webm")),
        (lambda: _video("avi", "mpeg4"), ("video", "avi")),
    ],
    ids=["png", "jpeg", "gif", "webp", "bmp", "tiff", "wav", "flac", "ogg", "mp3", "m4a", "mp4", "mov", "mkv", "webm", "avi"],
)
def test_real_files_are_recognised_by_their_bytes(make, expected: tuple[str, str]) -> None:
    assert sniff(make(), "no-suffix") == Sniffed(*expected)


def test_magic_beats_a_misleading_name(astronaut_png) -> None:
    assert sniff(astronaut_png, "caption.txt") == Sniffed("image", "png")
    assert sniff(astronaut_png, "clip.mp4") == Sniffed("image", "png")


def test_text_and_subtitles_by_name_or_webvtt_header(srt_bytes, vtt_bytes) -> None:
    assert sniff(b"a cat", "pets/cat.TXT") == Sniffed("text", "txt")
    assert sniff(b"a cat", "pets/cat.caption") == Sniffed("text", "txt")
    assert sniff(srt_bytes, "talk.srt") == Sniffed("subtitles", "srt")
    assert sniff(vtt_bytes, "talk.vtt") == Sniffed("subtitles", "vtt")
    assert sniff(vtt_bytes, "") == Sniffed("subtitles", "vtt")
    assert sniff(b"\xef\xbb\xbf" + vtt_bytes, "x") == Sniffed("subtitles", "vtt")


def test_unknown_bytes_and_names(random_bytes) -> None:
    assert sniff(b"", "empty") == Sniffed(None, "unknown")
    assert sniff(random_bytes, "x.bin") == Sniffed(None, "unknown")
    assert sniff(b"just words", "README") == Sniffed(None, "unknown")
    assert sniff(b"just words", "dir.with.dots/README") == Sniffed(None, "unknown")


def test_claimed_modality_from_suffix() -> None:
    assert claimed_modality("a/b/photo.JPG") == "image"
    assert claimed_modality("song.flac") == "audio"
    assert claimed_modality("clip.webm") == "video"
    assert claimed_modality("notes.txt") is None
    assert claimed_modality("v1.2/README") is None


def test_text_file_starting_with_id3_is_text() -> None:
    assert sniff(b"ID3 tags store the artist and title of a song.", "notes.txt") == Sniffed("text", "txt")


def test_audio_only_m4a_with_a_generic_brand_is_audio(audio_only_mp4) -> None:
    assert audio_only_mp4[8:12] == b"isom"
    assert sniff(audio_only_mp4, "memo.m4a").modality == "audio"


@pytest.mark.parametrize(("fmt", "expected"), [("RF64", "rf64"), ("W64", "w64"), ("AIFF", "aiff"), ("CAF", "caf")])
def test_long_form_wav_and_other_pcm_containers_are_audio_that_decodes(fmt: str, expected: str) -> None:
    """RF64 and Wave64 are how recorders write WAV past 4 GiB: real audio, never CORRUPT."""
    import soundfile

    from tessera.core.decode.audio import decode_audio

    buf = io.BytesIO()
    soundfile.write(buf, (0.3 * np.sin(np.arange(1600) / 3)).astype(np.float32), 16000, format=fmt, subtype="PCM_16")
    assert sniff(buf.getvalue(), "no-suffix") == Sniffed("audio", expected)
    assert decode_audio(buf.getvalue(), max_seconds=60).duration == pytest.approx(0.1, abs=0.005)


def _matroska(fmt: str, *, audio: bool, video: bool = False, attachment: bytes | None = None) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as c:
        if video:
            v = c.add_stream("libvpx" if fmt == "webm" else "libx264", rate=5)
            v.width, v.height, v.pix_fmt = 32, 32, "yuv420p"
        a = c.add_stream("libopus", rate=48000, layout="mono") if audio else None
        if attachment is not None:
            c.add_attachment("cover.jpg", "image/jpeg", attachment)
        if video:
            for i in range(3):
                frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i * 60, np.uint8), format="rgb24")
                frame.pts = i
                for p in v.encode(frame):
                    c.mux(p)
            for p in v.encode():
                c.mux(p)
        if a is not None:
            x = (0.3 * np.sin(np.arange(9600) / 5)).astype(np.float32)
            for k in range(0, len(x), 960):
                frame = av.AudioFrame.from_ndarray(x[None, k : k + 960], format="flt", layout="mono")
                frame.sample_rate, frame.pts = 48000, k
                for p in a.encode(frame):
                    c.mux(p)
            for p in a.encode():
                c.mux(p)
    return buf.getvalue()


def test_matroska_with_sound_tracks_only_is_audio() -> None:
    """WebM/Matroska audio (what browsers record; a song with its cover attached) is audio, not a
    video without a video stream; any video track keeps it video, whatever else it holds."""
    assert sniff(_matroska("webm", audio=True), "voice.webm") == Sniffed("audio", "webm")
    assert sniff(_matroska("matroska", audio=True, attachment=_image("JPEG")), "song.mka") == Sniffed("audio", "mka")
    assert sniff(_matroska("matroska", audio=True, video=True), "clip.mkv") == Sniffed("video", "mkv")
    assert sniff(_matroska("matroska", audio=False, video=True), "clip.mkv") == Sniffed("video", "mkv")


def test_a_damaged_matroska_header_keeps_the_magic_verdict() -> None:
    whole = _matroska("webm", audio=True)
    assert sniff(whole[:40], "voice.webm") == Sniffed("video", "webm")  # tracks unreadable: the magic decides


def test_utf16_text_is_not_an_mpeg_frame_header() -> None:
    """FF FE (a UTF-16 byte-order mark) looks like an MPEG layer I frame sync; .mp3 is layer III."""
    assert sniff("a caption".encode("utf-16"), "note.txt") == Sniffed("text", "txt")
    assert sniff("a caption".encode("utf-16"), "subs.srt") == Sniffed("subtitles", "srt")
    assert sniff(b"\xff\xfb\x90\x64" + bytes(60), "no-suffix") == Sniffed("audio", "mp3")  # a bare MPEG-1 layer III frame


@pytest.mark.parametrize(
    ("fmt", "codec", "rate", "expected"),
    [
        ("wv", "wavpack", 16000, "wv"),
        ("tta", "tta", 16000, "tta"),
        ("ac3", "ac3", 48000, "ac3"),
        ("eac3", "eac3", 48000, "eac3"),
        ("adts", "aac", 16000, "aac"),
        ("asf", "wmav2", 44100, "wma"),
        ("au", "pcm_s16be", 16000, "au"),
        ("amr", "libopencore_amrnb", 8000, "amr"),
    ],
    ids=["wavpack", "tta", "ac3", "eac3", "aac-adts", "wma", "au", "amr"],
)
def test_every_audio_container_ffmpeg_reads_is_audio_that_decodes(fmt: str, codec: str, rate: int, expected: str) -> None:
    """Formats a curator meets in old archives and broadcast (WMA, AC-3, WavPack, bare AAC…) are
    known by their bytes, whatever the name, and decode: not UNSUPPORTED at raw."""
    from tessera.core.decode.audio import decode_audio

    data = _audio(fmt, codec, rate)
    assert sniff(data, "no-suffix") == Sniffed("audio", expected)
    assert decode_audio(data, max_seconds=60).duration == pytest.approx(0.25, abs=0.1)


@pytest.mark.parametrize(("fmt", "codec", "expected"), [("flv", "flv", "flv"), ("mpegts", "libx264", "ts"), ("mpeg", "libx264", "mpg")])
def test_flash_transport_and_program_streams_are_videos_that_decode(fmt: str, codec: str, expected: str) -> None:
    from tessera.core.decode.video import VideoLimits, decode_video

    data = _video(fmt, codec)
    assert sniff(data, "no-suffix") == Sniffed("video", expected)
    metrics, _ = decode_video(data, VideoLimits(60, 10**6, 100), keyframe_fps=5.0, max_side=32)
    assert metrics["frames"] == 3


def test_an_asf_file_with_a_video_stream_is_a_video() -> None:
    assert sniff(_video("asf", "wmv2"), "clip.wma") == Sniffed("video", "wmv")


def test_a_quicktime_file_without_a_file_type_box_is_a_video_that_decodes() -> None:
    """QuickTime files older than the 'ftyp' box open with another top-level box ('wide', 'mdat', 'moov')."""
    from tessera.core.decode.video import VideoLimits, decode_video

    mov = bytearray(_video("mov", "libx264"))
    assert mov[4:8] == b"ftyp"
    mov[4:8] = b"free"  # same size, so every offset in the file still holds
    assert sniff(bytes(mov), "old.mov") == Sniffed("video", "mov")
    metrics, parts = decode_video(bytes(mov), VideoLimits(60, 10**6, 100), keyframe_fps=5.0, max_side=32)
    assert metrics["frames"] == 3 and len(parts.keyframes) >= 1


def test_an_ogg_stream_of_pictures_is_a_video_and_of_sound_is_audio() -> None:
    page = b"OggS\x00\x02" + b"\x00" * 20 + b"\x01\x2a"  # the first page's header: one 42-byte packet
    assert sniff(page + b"\x80theora" + b"\x00" * 34, "clip.ogg") == Sniffed("video", "ogv")
    assert sniff(_audio("ogg", "libopus", 48000), "clip.ogv") == Sniffed("audio", "ogg")
