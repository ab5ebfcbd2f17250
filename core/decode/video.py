"""Video decoding with PyAV. Run these only through `core.isolate`: a malformed stream
can crash the decoder process (SIGSEGV), which no try/except catches."""

from __future__ import annotations

import functools
import io
from array import array
from bisect import bisect_left
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import av
import numpy as np
from PIL import Image

from tessera.core.avsync import sound_offset
from tessera.core.decode import DecodeFailure
from tessera.core.decode.audio import CANONICAL_RATE, AudioStream, encode_audio
from tessera.core.decode.container import open_container
from tessera.core.decode.image import encode_jpeg
from tessera.core.decode.structure import Cut, as_truncation, cut_of, recovered, recovery
from tessera.core.decode.text import ass_dialogue_text
from tessera.core.records import Media, Reason, Segment
from tessera.core.windows import spans


@dataclass(frozen=True, slots=True)
class VideoLimits:
    max_seconds: float
    max_pixels: int
    max_frames: int


@dataclass(slots=True)
class VideoParts:
    """What `unified` keeps of a video: keyframes at a fixed rate, a 16 kHz mono track, cues."""

    keyframes: list[bytes] = field(default_factory=list)
    keyframe_times: list[float] = field(default_factory=list)
    audio: bytes | None = None
    segments: list[Segment] = field(default_factory=list)
    windows: list[tuple[float, float]] = field(default_factory=list)  # a long video's windows (core/windows.py); then…
    audio_windows: list[bytes] = field(default_factory=list)  # …its track as one FLAC per window instead of `audio`
    window_av: list[tuple[float, float] | None] = field(default_factory=list)  # …and each window's sound-vs-picture offset


def decode_video(
    data: Media, limits: VideoLimits, *, keyframe_fps: float, max_side: int, analysis_fps: float = 5.0, scene_threshold: float = 0.3,
    window_over_s: float = float("inf"), window_s: float = 60.0, min_window_s: float = 1.0, min_recovered_share: float = 0.5,
    av_max_lag_s: float = 2.0,
) -> tuple[dict[str, float], VideoParts]:  # fmt: skip
    """One pass: decode every frame under `limits` (stream metrics), keeping a keyframe (JPEG,
    longer side ≤ `max_side`) every 1/`keyframe_fps` s by timestamp (so variable frame rates
    land at the right times) and at every scene cut; in the same demux, the embedded subtitle
    cues and the first audio track as 16 kHz mono FLAC (a container that states no duration,
    whose windows are known only at the end, has its track read in a second pass).

    Scene cuts and motion come from a 32×18 greyscale copy of a frame every 1/`analysis_fps` s:
    motion is the mean absolute change between copies (0 still, 1 black↔white); a change over
    `scene_threshold` is a cut. The stream inventory counts video, audio, subtitle, data and
    attachment streams, and cover art (an attached picture is not the video).

    Longer than `window_over_s`: `parts.windows` are its windows of `window_s` (a last one under
    `min_window_s` joins the one before), and its track is cut to match as it decodes
    (`audio_windows`), so no more than one window of samples is held.

    A file cut short (core/decode/structure.py) keeps what decodes when its index lists frames and
    at least `min_recovered_share` of them decode (`recovered_share` in the metrics); otherwise,
    and whatever a decoder makes of the cut, TRUNCATED.

    With one track (not windowed), how far its sound runs from its pictures (core/avsync.py,
    within ±`av_max_lag_s`): `av_offset_s` and the correlation behind it, `av_offset_score`."""
    cut = cut_of(data)
    try:
        return _decode_video(
            data, limits, cut, keyframe_fps=keyframe_fps, max_side=max_side, analysis_fps=analysis_fps, scene_threshold=scene_threshold,
            window_over_s=window_over_s, window_s=window_s, min_window_s=min_window_s, min_recovered_share=min_recovered_share,
            av_max_lag_s=av_max_lag_s,
        )  # fmt: skip
    except DecodeFailure as exc:
        raise as_truncation(exc, cut) from None


def _decode_video(
    data: Media, limits: VideoLimits, short: Cut | None, *, keyframe_fps: float, max_side: int, analysis_fps: float, scene_threshold: float,
    window_over_s: float, window_s: float, min_window_s: float, min_recovered_share: float, av_max_lag_s: float,
) -> tuple[dict[str, float], VideoParts]:  # fmt: skip
    parts = VideoParts()
    with open_container(data, "video") as c:
        pictures = [st for st in c.streams.video if st.disposition & av.stream.Disposition.attached_pic]
        moving = [st for st in c.streams.video if st not in pictures]
        if not moving:
            raise DecodeFailure(Reason.NO_STREAM, "container has no video stream" + (" (only cover art)" if pictures else ""))
        v = moving[0]
        v.thread_type = "AUTO"
        w, h = int(v.codec_context.width or 0), int(v.codec_context.height or 0)
        if w * h > limits.max_pixels:
            raise DecodeFailure(Reason.TOO_LARGE, f"{w}x{h} frames > {limits.max_pixels} pixels")
        frames, last_t = 0, 0.0
        step, next_t = 1.0 / keyframe_fps, 0.0
        look, next_look = 1.0 / analysis_fps, 0.0
        previous: np.ndarray | None = None
        changes: list[float] = []
        last_frame: np.ndarray | None = None  # every frame's coarse copy, for the sound-vs-picture offset
        frame_changes = FrameChanges()
        times: list[float] = []
        cues: list[Segment] = []
        cuts = 0
        # the track in the same pass where the container states its duration (windows known up front)
        stated = float(c.duration / av.time_base) if c.duration else 0.0
        track = Track(spans(stated, window_s, min_window_s) if stated > window_over_s else [], frame_changes, av_max_lag_s) if stated and c.streams.audio else None
        sound = AudioStream(c, max_seconds=limits.max_seconds, rate=CANONICAL_RATE) if track is not None else None
        try:
            for frame in _frames_and_cues(c, v, cues, sound, track):
                frames += 1
                last_t = float(frame.time or 0.0)
                times.append(last_t)
                if last_t > limits.max_seconds or frames > limits.max_frames:
                    raise DecodeFailure(Reason.TOO_LONG, f"video exceeds {limits.max_seconds:g} s or {limits.max_frames} frames")
                if track is not None:
                    track.seen(last_t)
                cut = False
                small = thumbnail(frame)
                if last_frame is not None:
                    frame_changes.add(last_t, float(np.abs(small - last_frame).mean()))
                last_frame = small
                if last_t + 1e-6 >= next_look:
                    if previous is not None:
                        changes.append(float(np.abs(small - previous).mean()))
                        cut = changes[-1] > scene_threshold
                        cuts += cut
                    previous, next_look = small, (int(last_t / look + 1e-6) + 1) * look
                if last_t + 1e-6 >= next_t or (cut and (not parts.keyframe_times or last_t - parts.keyframe_times[-1] >= 0.5)):
                    parts.keyframes.append(keyframe_jpeg(frame, max_side))
                    parts.keyframe_times.append(round(last_t, 3))
                    if last_t + 1e-6 >= next_t:
                        next_t = (int(last_t / step + 1e-6) + 1) * step
        except DecodeFailure:
            raise
        except (av.error.FFmpegError, ValueError, EOFError) as exc:
            reason = Reason.TRUNCATED if frames else Reason.CORRUPT
            raise DecodeFailure(reason, f"video stops decoding after {frames} frames: {exc}") from None
        if frames == 0 or not parts.keyframes:
            raise DecodeFailure(Reason.EMPTY, "video stream decodes to no frames")
        listed = min(1.0, frames / v.frames) if v.frames else 0.0  # the share of the frames its index lists that decode
        if short is None and v.frames and listed < min_recovered_share:
            raise DecodeFailure(Reason.CORRUPT, f"{frames} of the {v.frames} frames its index lists decode")
        if short is not None and not v.frames:  # no index of frames (fragmented): a cut in the fragments loses an unknown share
            listed = 0.0 if short.in_media else 1.0
        kept = recovery(recovered(listed, min_recovered_share, "video frames", short.detail)) if short else {}
        rate = float(v.average_rate) if v.average_rate else 0.0
        duration = float(c.duration / av.time_base) if c.duration else last_t + (1 / rate if rate else 0.0)
        metrics = {
            "width": float(w),
            "height": float(h),
            "frames": float(frames),
            "fps": rate or (frames / duration if duration else 0.0),
            "duration_s": duration,
            "audio_streams": float(len(c.streams.audio)),
            "subtitle_streams": float(len(c.streams.subtitles)),
            "data_streams": float(len(c.streams.data)),
            "attachments": float(len(c.streams.attachments)),
            "cover_streams": float(len(pictures)),
            "vfr": variable_rate(times),
            "scene_cuts": float(cuts),
            "motion": round(float(np.mean(changes)), 5) if changes else 0.0,
            **kept,
        }
    parts.segments = sorted(cues, key=lambda g: (g.start, g.end, g.text))
    if duration > window_over_s:
        parts.windows = spans(duration, window_s, min_window_s)
    if metrics["audio_streams"]:
        try:
            if track is None:  # no stated duration: the track takes a pass of its own, once the windows are known
                with open_container(data, "video") as c:
                    sound = AudioStream(c, max_seconds=limits.max_seconds, rate=CANONICAL_RATE)
                    track = Track(parts.windows, frame_changes, av_max_lag_s)
                    for block in sound.blocks():
                        track.add(block)
            assert sound is not None
            track.close()
            sound.whole()
            if parts.windows:
                parts.audio_windows, parts.window_av = track.flacs, track.offsets
            else:
                if not len(track.samples):
                    raise DecodeFailure(Reason.EMPTY, "audio stream decodes to no samples")
                parts.audio = encode_audio(track.samples, CANONICAL_RATE)
                found = sound_offset(track.samples, CANONICAL_RATE, *frame_changes.between(0.0, float("inf")), av_max_lag_s)
                if found is not None:
                    metrics["av_offset_s"], metrics["av_offset_score"] = found
        except DecodeFailure as exc:
            if exc.reason is not Reason.EMPTY:
                raise
    return metrics, parts


class Track:
    """A video's track as it decodes, fed in the frames' own pass: kept whole (`samples`, after
    `close`), or cut into the video's `windows` (the last takes whatever remains; windows past the
    track's end are silent), each window made — its FLAC and its sound-vs-picture offset
    (core/avsync.py) — once the pictures have passed its end (`seen`). At most `hold` finished
    windows wait for them, so a file that stores its sound far ahead of its pictures holds no
    more than that, and such a window's offset is taken from the frames decoded by then."""

    def __init__(self, windows: list[tuple[float, float]], changes: FrameChanges, max_lag_s: float, hold: int = 2) -> None:
        self.windows, self.changes, self.max_lag_s, self.hold = windows, changes, max_lag_s, hold
        self.blocks: list[np.ndarray] = []  # the window being filled; without windows, the whole track
        self.held = 0
        self.index = 0
        self.waiting: deque[tuple[int, np.ndarray]] = deque()
        self.flacs: list[bytes] = []
        self.offsets: list[tuple[float, float] | None] = []
        self.samples = np.zeros(0, np.float32)

    def add(self, block: np.ndarray) -> None:
        while len(block):
            if self.index >= len(self.windows) - 1:
                self.blocks.append(block)
                return
            start, end = self.windows[self.index]
            size = int(round((end - start) * CANONICAL_RATE))
            taken = block[: size - self.held]
            self.blocks.append(taken)
            self.held += len(taken)
            block = block[len(taken) :]
            if self.held == size:
                self.waiting.append((self.index, np.concatenate(self.blocks)))
                self.blocks, self.held, self.index = [], 0, self.index + 1
                while len(self.waiting) > self.hold:
                    self._make(*self.waiting.popleft())

    def seen(self, t: float) -> None:
        """The pictures have been decoded up to `t`: the windows that end by then are made."""
        while self.waiting and self.windows[self.waiting[0][0]][1] <= t:
            self._make(*self.waiting.popleft())

    def close(self) -> None:
        joined = np.concatenate(self.blocks) if self.blocks else np.zeros(0, np.float32)
        self.blocks = []
        if not self.windows:
            self.samples = joined
            return
        self.waiting.append((self.index, joined))
        self.waiting.extend((i, np.zeros(0, np.float32)) for i in range(self.index + 1, len(self.windows)))
        while self.waiting:
            self._make(*self.waiting.popleft())

    def _make(self, index: int, samples: np.ndarray) -> None:
        start, end = self.windows[index]
        self.flacs.append(encode_audio(samples, CANONICAL_RATE))
        self.offsets.append(sound_offset(samples, CANONICAL_RATE, *self.changes.between(start, end), self.max_lag_s))


class FrameChanges:
    """Each frame's change from the frame before, with its time: 16 bytes a frame (7 MiB for 4 h
    at 30 fps), for the sound-vs-picture offset of the whole video or of each window."""

    def __init__(self) -> None:
        self.times, self.changes = array("d"), array("d")

    def add(self, t: float, change: float) -> None:
        self.times.append(t)
        self.changes.append(change)

    def between(self, start: float, end: float) -> tuple[np.ndarray, np.ndarray]:
        """(times from `start`, changes) of the frames in [start, end)."""
        i, j = bisect_left(self.times, start), bisect_left(self.times, end)
        return np.asarray(self.times[i:j]) - start, np.asarray(self.changes[i:j])


def thumbnail(frame: av.VideoFrame, size: tuple[int, int] = (32, 18)) -> np.ndarray:
    """A coarse greyscale copy in [0, 1], sampled from the luma plane where the frame has one
    (no scaler: ~20× cheaper than asking FFmpeg for a scaled grey frame)."""
    if frame.format.name in ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "gray"):
        plane = frame.planes[0]
        luma = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[: frame.height, : frame.width]
    else:
        luma = frame.to_ndarray(format="gray")
    return luma[_grid(luma.shape[0], luma.shape[1], size)].astype(np.float32) / 255.0


@functools.lru_cache(maxsize=16)
def _grid(height: int, width: int, size: tuple[int, int]) -> tuple[np.ndarray, ...]:
    """The rows and columns `thumbnail` samples: the same for every frame of a stream."""
    return np.ix_(np.linspace(0, height - 1, size[1]).astype(int), np.linspace(0, width - 1, size[0]).astype(int))


def variable_rate(times: list[float], tolerance: float = 0.25) -> float:
    """1.0 when frame intervals vary by more than `tolerance` of their median (a variable frame
    rate: phone recordings, screen captures), else 0.0."""
    gaps = np.diff(np.sort(np.asarray(times)))
    gaps = gaps[gaps > 0]
    if len(gaps) < 3:
        return 0.0
    median = float(np.median(gaps))
    return float(np.percentile(gaps, 95) - np.percentile(gaps, 5) > tolerance * median)


def keyframe_jpeg(frame: av.VideoFrame, max_side: int) -> bytes:
    """The frame as RGB JPEG, longer side ≤ `max_side`, scaled by FFmpeg (area averaging: as
    good as Lanczos for a downscale, and about 10× faster than scaling the full frame in Pillow)."""
    w, h = frame.width, frame.height
    scale = min(1.0, max_side / max(w, h))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return encode_jpeg(frame.to_image(width=size[0], height=size[1], interpolation="AREA"))


def packet_cues(packet: av.Packet) -> list[Segment]:
    """The cues in one subtitle packet (none from a packet that does not decode)."""
    if packet.pts is None:
        return []
    start = float(packet.pts * packet.time_base)
    dur = float(packet.duration * packet.time_base) if packet.duration else 0.0
    source = f"subtitle:{packet.stream.codec_context.name}:{packet.stream.index}"
    try:
        items = packet.decode()
    except (av.error.FFmpegError, ValueError, EOFError):
        return []
    out = []
    for item in items:
        for rect in [item] if hasattr(item, "ass") else list(item):  # PyAV ≥ 14 yields rects directly
            text = _rect_text(rect)
            if text:
                out.append(Segment(round(start, 3), round(start + dur, 3), text, source))
    return out


def _frames_and_cues(
    c: av.container.InputContainer, v: av.VideoStream, cues: list[Segment], sound: AudioStream | None = None, track: Track | None = None
) -> Iterator[av.VideoFrame]:
    """The frames of `v`, read in one pass with the container's subtitle streams, whose cues are
    added to `cues` as their packets go by, and with `sound` (its first audio track), whose
    samples go to `track`: a video's file is read once for all three."""
    for packet in c.demux(v, *c.streams.subtitles, *([sound.stream] if sound is not None else [])):
        kind = packet.stream.type
        if kind == "subtitle":
            cues += packet_cues(packet)
        elif kind == "audio" and sound is not None and track is not None:
            for block in sound.packet(packet):
                track.add(block)
        else:
            yield from packet.decode()
    if sound is not None and track is not None:
        for block in sound.flush():
            track.add(block)


def _rect_text(rect: object) -> str:
    raw = getattr(rect, "ass", None) or getattr(rect, "text", None) or b""
    return ass_dialogue_text(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw))


def frame_array(jpeg: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
