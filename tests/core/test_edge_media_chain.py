"""Every stage's operators, in order, over seeded generated media (tests/core/edge_media.py):
videos and audio from 0.1 s to 4 s, with and without a track, tracks that end before the
pictures, 0, 1 and many cues (at the start, across the end, past it), mono to 5.1, 8 kHz to
96 kHz, and captioned pictures of odd sizes and modes. Each is legal media, so each lands or is
set aside with a reason — an operator that raises (OP_ERROR) or a decoder that dies
(DECODER_CRASH) on any of them fails the test, naming the case. A guard for every operator added
later: it runs whatever `params.yaml` lists."""

from __future__ import annotations

from collections import Counter

import pytest

from tessera.core.records import Reason, Sample
from tessera.resources.models import ModelsResource
from tessera.resources.params import load_params
from tests.core.chain import STAGES, run_chain
from tests.core.edge_media import Case, cases, sample

BUGS = {Reason.OP_ERROR, Reason.DECODER_CRASH}
# the two videos a user met: cues reaching the end of a track shorter than the analysis window
REPORTED = [
    Case(kind="video", seconds=2.0, rate=48000, channels=2, signal="bursts", cues=((0.4, 1.6, "one cue in WebVTT"),),
         carrier="embedded", container="mkv", audio_seconds=2.0, fps=25, seed=11),
    Case(kind="video", seconds=2.0, rate=44100, channels=2, signal="bursts", cues=((0.3, 1.92, "a cue to the end of the track"),),
         carrier="embedded", container="mp4", audio_seconds=1.93, fps=25, seed=12),
]  # fmt: skip


@pytest.fixture(scope="module")
def models() -> ModelsResource:
    return ModelsResource()  # Whisper and MiniLM from their packages; image/audio encoders reported unavailable per row


def _unique(found: list[Case]) -> tuple[list[Sample], dict[str, str]]:
    samples: dict[str, Sample] = {}
    names: dict[str, str] = {}
    for case in found:
        s = sample(case)
        samples.setdefault(s.sample_id, s)
        names.setdefault(s.sample_id, case.name)
    return list(samples.values()), names


@pytest.mark.slow
@pytest.mark.parametrize("seed", [20261207, 16])
def test_generated_media_never_raise_in_any_operator(seed: int, models: ModelsResource) -> None:
    samples, names = _unique(cases(seed, 150))
    chain = run_chain(samples, load_params(), models)
    bugs = [f"{stage} {q.op} on {names.get(q.sample_id, q.sample.source)}: {q.detail[:160]}" for stage, q in chain.all_quarantined() if q.reason in BUGS]
    assert bugs == []
    # I1 at every stage: each input landed or set aside, never both, never neither
    inputs = {s.sample_id for s in samples}
    for stage in STAGES:
        landed = {s.sample_id for s in chain.landed[stage] if s.sample_id in inputs}  # besides new variants of them
        quarantined = [q.sample_id for q in chain.quarantined[stage]]
        assert landed.isdisjoint(quarantined) and landed | set(quarantined) == inputs, stage
        assert all(s.parent_id in inputs for s in chain.landed[stage] if s.sample_id not in inputs), stage
        inputs = {s.sample_id for s in chain.landed[stage] if "windows" not in s.metrics}
    # the reasons are reasons a person can act on, and most legal media land
    reasons = Counter(q.reason for _, q in chain.all_quarantined())
    assert set(reasons) <= {Reason.MISALIGNED, Reason.LOW_QUALITY, Reason.DUPLICATE}, reasons
    landed = {s.sample_id for s in chain.landed["embedded"] if s.parent_id is None}
    assert len(landed) + reasons[Reason.DUPLICATE] >= 0.9 * len(samples)  # generated pictures repeat (one photo at many sizes)


@pytest.mark.slow
def test_short_subtitled_videos_land_with_their_cues_and_timeline(models: ModelsResource) -> None:
    samples, names = _unique(REPORTED)
    chain = run_chain(samples, load_params(), models)
    assert chain.all_quarantined() == []
    landed = {names[s.sample_id]: s for s in chain.landed["embedded"] if s.parent_id is None}
    assert sorted(landed) == sorted(names.values())
    for case in REPORTED:
        s = landed[case.name]
        assert [g.text for g in s.segments if g.source.startswith("subtitle:")] == [c[2] for c in case.cues]
        assert s.timeline and any(m.cues for m in s.timeline)  # the cue is placed on the pictures' clock
        # a 2 s track holds enough to line up with its cue: measured, not guessed
        assert "cue_offset_s" in s.metrics or any(f.startswith("segments.offset:not measured") for f in s.flags)
