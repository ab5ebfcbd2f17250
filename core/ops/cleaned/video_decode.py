from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

import numpy as np

from tessera.core.avsync import track_start
from tessera.core.decode.audio import CANONICAL_AUDIO, CANONICAL_RATE, encode_audio, read_audio
from tessera.core.decode.video import VideoLimits, VideoParts, decode_video
from tessera.core.ops.base import OpContext, map_isolated, register_op
from tessera.core.ops.unified.audio_place import START
from tessera.core.ops.unified.video_canonical import with_parts
from tessera.core.records import MODALITY_ORDER, Result, Sample
from tessera.core.windows import stitch, window


@register_op("video.decode")
@dataclass(frozen=True, slots=True)
class VideoDecode:
    """Decode every frame under limits, isolated from the stage (a crashing or hanging decoder
    quarantines that video as DECODER_CRASH); record stream metrics (inventory, frame rate and
    whether it varies, scene cuts, motion) and, in the same pass, the canonical parts
    `video.canonical` would make (keyframes at a fixed rate and at cuts, 16 kHz track, cues).
    Longer than `window_over_s`: cut into clips of `window_s` (core/windows.py), each with its
    keyframes, its stretch of the track and its cues; past `max_seconds`: TOO_LONG. A file cut
    short lands what decodes when that is at least `min_recovered_share` of the frames its index
    lists (`video_recovered_share`); otherwise TRUNCATED. A recorder's track time-paired with the
    video is synced to the video's own track within ±`pair_sync_s` (with_parts); cut into clips,
    each clip carries its stretch of the recording, synced clip by clip (`_Decoded.clip_track`)."""

    window_over_s: float = 600.0
    window_s: float = 60.0
    max_seconds: float = 14400.0
    max_pixels: int = 3840 * 2160
    max_frames: int = 1_440_000
    timeout_s: float = 120.0
    keyframe_fps: float = 1.0
    max_side: int = 384
    analysis_fps: float = 5.0
    scene_threshold: float = 0.3
    min_recovered_share: float = 0.5
    av_max_lag_s: float = 2.0
    pair_sync_s: float = 3.0
    pair_min_sync: float = 0.3

    def apply(self, samples: list[Sample], ctx: OpContext) -> list[Result]:
        limits = VideoLimits(self.max_seconds, self.max_pixels, self.max_frames)
        decode = partial(
            decode_video, keyframe_fps=self.keyframe_fps, max_side=self.max_side, analysis_fps=self.analysis_fps,
            scene_threshold=self.scene_threshold, window_over_s=self.window_over_s, window_s=self.window_s,
            min_recovered_share=self.min_recovered_share, av_max_lag_s=self.av_max_lag_s,
        )  # fmt: skip
        decoded = map_isolated(
            samples,
            lambda s: "video" in s.media,  # a row whose video this stage did not load stays as it is
            decode,
            lambda s: (s.media["video"], limits),
            lambda s, out: _Decoded(s.with_metrics(**{f"video_{k}": v for k, v in out[0].items()}), out[1], self.pair_sync_s, self.pair_min_sync),  # type: ignore[arg-type,return-value]
            workers=ctx.workers,
            timeout_s=self.timeout_s,
        )
        # a long separate recording was cut into windows by audio.decode (this chunk holds them):
        # the windows a clip covers go into the clips, the rest stay rows of their own
        cut: dict[str, list[Sample]] = {}
        for r in samples:
            if r.aug_op == "audio.window" and r.parent_id is not None:
                cut.setdefault(r.parent_id, []).append(r)
        out: list[Result] = []
        taken: set[str] = set()
        for d in decoded:
            rows, used = d.rows(cut.get(d.sample.sample_id, [])) if isinstance(d, _Decoded) else ([d], set())
            out += rows
            taken |= used
        return [r for r in out if not (isinstance(r, Sample) and r.sample_id in taken)]


@dataclass(frozen=True, slots=True)
class _Decoded:
    sample: Sample
    parts: VideoParts
    sync_s: float
    min_sync: float

    def rows(self, cut: list[Sample]) -> tuple[list[Result], set[str]]:
        """The sample with its parts; a windowed video: the parent with its metrics, then its clips
        (and the ids of the recording's windows, `cut`, that went into them). A parent that
        audio.decode already cut (its separate audio file was long) ends at this stage, so its
        pictures go on as clips even when short: one clip, the whole video."""
        s, p = self.sample, self.parts
        spans, tracks, offsets = p.windows, p.audio_windows, p.window_av
        if not spans and "windows" in s.metrics:
            end = s.metrics.get("video_duration_s") or (max(p.keyframe_times, default=0.0) + 1.0)
            offset = (s.metrics["video_av_offset_s"], s.metrics["video_av_offset_score"]) if "video_av_offset_score" in s.metrics else None
            spans, tracks, offsets = [(0.0, float(end))], [p.audio] if p.audio is not None else [], [offset]
        if not spans:
            return [with_parts(s, p, self.sync_s, self.min_sync)], set()
        pieces = _recording(s, cut)
        heard = lru_cache(maxsize=2)(lambda b: read_audio(b).samples)  # neighbouring clips share a window
        whole = s.evolve(segments=[*s.segments, *p.segments])
        clips: list[Result] = []
        for i, (start, end) in enumerate(spans):
            picked = [(f, t - start) for f, t in zip(p.keyframes, p.keyframe_times, strict=True) if start <= t < end]
            track, placed = self.clip_track(s, pieces, heard, (start, end), tracks[i] if i < len(tracks) else None)
            media: dict[str, Any] = {"audio": track} if track is not None else {}
            clip = window(
                whole, "video", i, (start, end), media, {"audio": CANONICAL_AUDIO} if media else {},
                {"video_duration_s": end - start, "keyframes": float(len(picked)), **_av(offsets[i] if i < len(offsets) else None), **placed},
                keyframes=[f for f, _ in picked], keyframe_times=[round(t, 3) for _, t in picked],
            )  # fmt: skip
            kinds = {*clip.modalities, *(["audio"] if media else [])}
            clips.append(clip.evolve(modalities=[m for m in MODALITY_ORDER if m in kinds]))
        # a window of the recording that the pictures cover whole goes into the clips; one that
        # runs past them (the recorder started earlier or ran on) stays a row of its own
        lead = s.metrics.get(START, 0.0)
        taken = {w.sample_id for w in cut if w.metrics["window_start_s"] >= -lead - 1e-6 and w.metrics["window_end_s"] <= spans[-1][1] - lead + 1e-6}
        kept = len(cut) - len(taken)
        gone = ("video", "audio") if pieces else ("video",)  # the recording lives on in the clips
        parent = s.evolve(media={m: v for m, v in s.media.items() if m not in gone}).with_metrics(windows=float(kept + len(spans)))
        return [parent, *clips], taken

    def clip_track(
        self, s: Sample, pieces: list[tuple[float, float, bytes]], heard: Callable[[bytes], np.ndarray], span: tuple[float, float], own: bytes | None
    ) -> tuple[bytes | None, dict[str, float]]:
        """A clip's track: its stretch of the separate recording (`paired_audio_share` of the clip
        is heard by it, silence where it did not run), or the video's own where the recording
        never reaches the clip. A recording paired by clock is synced to the clip's own track
        within ±`sync_s` (clocks drift over a long take): `paired_audio_start_s` on the clip is
        where the recording began on the clip's clock."""
        if not pieces:
            return own, {}
        start, end = span
        rate, n = CANONICAL_RATE, int(round((end - start) * CANONICAL_RATE))
        timed, lead = START in s.metrics, s.metrics.get(START, 0.0)
        margin = self.sync_s if timed and own is not None else 0.0
        pad = int(round(margin * rate))
        track, (lo, hi) = stitch(pieces, start - lead - margin, n + 2 * pad, rate, heard)
        at, placed = -margin, {}  # where `track` begins on the clip's clock: the clocks' guess…
        if margin and hi > lo:
            found = track_start(read_audio(own).samples, track, rate, -margin, margin)  # type: ignore[arg-type]
            if found is not None:
                placed["paired_audio_sync_score"] = found[1]
                at = found[0] if found[1] >= self.min_sync else at  # …or where the onsets agree
        first = min(max(0, int(round(-at * rate))), 2 * pad)
        share = max(0, min(hi, first + n) - max(lo, first)) / n
        if not share:  # the recording never reaches this clip: the video's own sound was all there was
            return own, {}
        placed["paired_audio_share"] = round(share, 4)
        if timed:
            placed[START] = round(at - (start - lead - margin), 3)
        return encode_audio(track[first : first + n], rate), placed


def _recording(s: Sample, cut: list[Sample]) -> list[tuple[float, float, bytes]]:
    """The separate recording beside a video, in pieces on its own clock: its windows, or its
    whole canonical track (none: the video has only its own)."""
    if cut:
        return sorted((w.metrics["window_start_s"], w.metrics["window_end_s"], w.media["audio"]) for w in cut)
    if "audio" in s.media and s.formats.get("audio") == CANONICAL_AUDIO:
        return [(0.0, float("inf"), s.media["audio"])]
    return []


def _av(found: tuple[float, float] | None) -> dict[str, float]:
    return {} if found is None else {"video_av_offset_s": found[0], "video_av_offset_score": found[1]}
