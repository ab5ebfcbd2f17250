"""audio.decode on long recordings: windows instead of TOO_LONG, each a row of its own with its
parent, times and re-timed cues; the samples are exactly those of the whole track; memory holds
one window, not the recording."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tessera.core.decode.audio import CANONICAL_RATE, decode_audio, read_audio
from tessera.core.ops.cleaned.audio_decode import AudioDecode
from tessera.core.records import Quarantined, Reason, Sample, Segment
from tessera.core.synth import encoded_audio, tone
from tessera.core.windows import window_id

RATE = 8_000


def _long(seconds: float) -> bytes:
    return encoded_audio(tone(seconds, 220.0, RATE, 0.3), RATE, "flac")


def test_a_recording_past_the_threshold_lands_as_windows(make_sample) -> None:
    audio = _long(95.0)
    cues = [Segment(5.0, 8.0, "first", "subtitle:file:srt"), Segment(28.0, 33.0, "across a cut", "subtitle:file:srt"), Segment(94.0, 99.0, "past the end", "subtitle:file:srt")]
    s = make_sample(audio=audio).evolve(segments=cues, modalities=["audio", "subtitles"])
    parent, *windows = AudioDecode(window_over_s=40.0, window_s=30.0).apply([s], None)
    assert isinstance(parent, Sample) and parent.metrics["windows"] == 4.0 == len(windows)
    assert parent.metrics["duration_s"] == pytest.approx(95.0, abs=0.01) and "audio" not in parent.media
    assert [(w.metrics["window_start_s"], w.metrics["window_end_s"]) for w in windows] == [(0.0, 30.0), (30.0, 60.0), (60.0, 90.0), (90.0, 95.0)]
    assert [w.sample_id for w in windows] == [window_id(s.sample_id, "audio", i) for i in range(4)]
    assert all(w.parent_id == s.sample_id and w.aug_op == "audio.window" for w in windows)
    assert windows[0].segments == [Segment(5.0, 8.0, "first", "subtitle:file:srt"), Segment(28.0, 30.0, "across a cut", "subtitle:file:srt")]
    assert windows[1].segments == [Segment(0.0, 3.0, "across a cut", "subtitle:file:srt")]
    assert windows[3].segments == [Segment(4.0, 5.0, "past the end", "subtitle:file:srt")]
    assert windows[2].modalities == ["audio"] and windows[3].modalities == ["audio", "subtitles"]
    joined = np.concatenate([read_audio(w.media["audio"]).samples for w in windows])
    whole = decode_audio(audio, max_seconds=1e9, rate=CANONICAL_RATE).samples
    assert np.array_equal(np.round(joined * 32767), np.round(np.clip(whole, -1, 1) * 32767))  # sample-exact
    again = AudioDecode(window_over_s=40.0, window_s=30.0).apply([s], None)
    assert [w.media["audio"] for w in again[1:]] == [w.media["audio"] for w in windows]


def test_a_short_last_remainder_joins_the_window_before_it(make_sample) -> None:
    parent, *windows = AudioDecode(window_over_s=40.0, window_s=30.0, min_seconds=1.0).apply([make_sample(audio=_long(60.5))], None)
    assert [(w.metrics["window_start_s"], w.metrics["window_end_s"]) for w in windows] == [(0.0, 30.0), (30.0, 60.5)]


def test_past_the_hard_cap_it_is_still_too_long(make_sample) -> None:
    (out,) = AudioDecode(window_over_s=10.0, window_s=5.0, max_seconds=20.0).apply([make_sample(audio=_long(25.0))], None)
    assert isinstance(out, Quarantined) and out.reason is Reason.TOO_LONG


PEAK = """
import json, resource, sys
from tessera.core.ops.cleaned.audio_decode import AudioDecode
from tessera.core.records import Sample
data = open(sys.argv[1], "rb").read()
s = Sample(sample_id="p", batch="b", source="x", modalities=["audio"], media={"audio": data})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = AudioDecode(window_over_s=30.0, window_s=30.0).apply([s], None)
print(json.dumps({"windows": len(out) - 1, "grew_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before}))
"""


@pytest.mark.slow
def test_memory_holds_a_window_not_the_recording(tmp_path) -> None:
    """Decoding 40 minutes grows the process by about what 5 minutes do: one window in flight plus
    the windows' FLAC bytes (measured: +37 MiB; a whole-track decode of the same file: +450 MiB)."""
    grew = {}
    for minutes in (5, 40):
        path = tmp_path / f"{minutes}.flac"
        path.write_bytes(_long(minutes * 60.0))
        out = subprocess.run([sys.executable, "-c", PEAK, str(path)], capture_output=True, text=True, check=True)
        grew[minutes] = json.loads(out.stdout.strip().splitlines()[-1])
    assert grew[40]["windows"] == 80 and grew[5]["windows"] == 10
    assert grew[40]["grew_kib"] - grew[5]["grew_kib"] < 64 * 1024, grew
