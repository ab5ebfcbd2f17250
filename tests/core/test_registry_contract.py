"""The operator contract, checked for every registered operator on an adversarial corpus.

Each operator, built with its defaults, must: never raise on bad data; return one result per
input, keeping its sample_id (plus variants whose parent_id names an input); give the same
output twice; be picklable (with its outputs); and never mutate its input.
"""

from __future__ import annotations

import copy
import hashlib
import pickle
import re
from dataclasses import dataclass, field

import numpy as np
import pytest

import tessera.core.ops  # noqa: F401  (registers every operator)
from tessera.core.decode.audio import encode_audio
from tessera.core.ops.base import REGISTRY, OpContext, build_ops
from tessera.core.records import Quarantined, Reason, Sample, Segment

OPS = sorted(REGISTRY)


def test_registry_holds_every_operator_params_yaml_names() -> None:
    from tessera.resources.params import load_params

    params = load_params()
    named = {spec if isinstance(spec, str) else next(iter(spec)) for stage in params.values() if isinstance(stage, dict) for spec in stage.get("ops", [])}
    assert named <= set(OPS) and len(OPS) == 39  # cross-batch exact dedup is raw's ledger, not an operator
    for name, cls in REGISTRY.items():
        assert cls.op_name == name
        assert name.count(".") == 1


def test_every_operator_builds_from_its_name_and_bad_specs_say_what_is_wrong() -> None:
    ops = build_ops(OPS)
    assert [op.op_name for op in ops] == OPS
    with pytest.raises(ValueError, match="unknown operator 'image.sharpen'"):
        build_ops(["image.sharpen"])
    with pytest.raises(ValueError, match="bad parameters for operator 'image.min_side'"):
        build_ops([{"image.min_side": {"pixels": 3}}])
    with pytest.raises(ValueError, match="one-key mapping"):
        build_ops([{"image.min_side": {}, "image.decode": {}}])


@pytest.fixture(scope="module")
def corpus(
    make_sample,
    astronaut_png,
    astronaut_jpeg,
    truncated_png,
    random_bytes,
    tone_wav,
    silence_wav,
    tone_flac,
    mp4_with_subs,
    audio_only_mp4,
    srt_bytes,
    vtt_bytes,
    latin1_text,
    nfd_text,
    mk_tone,
    chelsea_png,
    mk_mp4,
) -> list[Sample]:
    """Raw rows as discovery makes them (good and broken bytes of every modality), then later-stage rows."""
    raw = [
        make_sample(image=astronaut_png),
        make_sample(image=astronaut_jpeg, text=b"an astronaut on the left"),
        make_sample(image=truncated_png),
        make_sample(image=random_bytes),
        make_sample(image=b""),
        make_sample(audio=tone_wav),
        make_sample(audio=silence_wav, subtitles=srt_bytes),
        make_sample(audio=tone_flac),
        make_sample(audio=tone_flac[: len(tone_flac) // 2]),
        make_sample(audio=random_bytes[:1000]),
        make_sample(video=mp4_with_subs),
        make_sample(video=audio_only_mp4),
        make_sample(video=random_bytes[:2000]),
        make_sample(video=mp4_with_subs[: len(mp4_with_subs) // 3]),
        make_sample(text=nfd_text),
        make_sample(text=latin1_text),
        make_sample(text=b""),
        make_sample(text=b"nul\x00byte"),
        make_sample(subtitles=vtt_bytes),
        make_sample(subtitles=b"not a subtitle file"),
        make_sample(subtitles=latin1_text),
    ]
    wav16 = encode_audio(mk_tone(1.0, 16000).astype(np.float32))
    canonical_audio = (
        make_sample(audio=wav16, formats={"audio": "flac:16k-mono"})
        .with_metrics(duration_s=1.0, silence_ratio=0.0)
        .evolve(
            text="a tone",
            segments=[Segment(0.2, 0.8, "inside", "subtitle:file:srt"), Segment(4.0, 5.0, "outside", "subtitle:file:srt")],
        )
    )
    canonical_image = (
        make_sample(image=chelsea_png, formats={"image": "png"})
        .with_metrics(width=90.0, height=60.0, dhash_hi=1.0, dhash_lo=2.0)
        .evolve(text="Left side")
    )
    variant = canonical_image.evolve(
        sample_id="f" * 64, parent_id=canonical_image.sample_id, aug_op="image.hflip", aug_params={"axis": "horizontal"}
    )
    decoded_text = make_sample(text="Cafe\u0301".encode()).evolve(text="Cafe\u0301", media={})
    short_video = mk_mp4(1.0, cues=[(0.2, 0.9, "Hello there")])
    canonical_video = (
        make_sample(video=short_video)
        .evolve(
            modalities=["audio", "video"],
            media={"video": short_video, "audio": wav16},
            formats={"video": "mp4", "audio": "flac:16k-mono"},
            keyframes=[astronaut_jpeg],
            keyframe_times=[0.0],
            segments=[Segment(0.2, 0.9, "Hello there", "subtitle:mov_text:2")],
        )
        .with_metrics(video_duration_s=1.0)
    )
    rows = raw + [canonical_audio, canonical_image, variant, decoded_text, canonical_video] + _shortest_at_every_stage(make_sample, mk_tone, mk_mp4)
    assert len({s.sample_id for s in rows}) == len(rows)  # a batch never holds one id twice (discovery dedups)
    return rows


def _shortest_at_every_stage(make_sample, mk_tone, mk_mp4) -> list[Sample]:
    """The shortest legal media of each modality (0.1 s of audio with one cue, a one-frame video
    with 0.1 s of sound and one cue, a 32 px picture, one character of text), raw and as every
    stage's operators leave them (tests/core/chain.py), each form under an id of its own."""
    from tessera.resources.params import load_params
    from tests.core.chain import run_chain
    from tests.core.conftest import encode_image, photo, wav_bytes

    cue = b"1\n00:00:00,000 --> 00:00:00,100\nhi\n"
    shortest = [
        make_sample(audio=wav_bytes(mk_tone(0.1, 16000), 16000), subtitles=cue),
        make_sample(video=mk_mp4(0.1, 10, (32, 32), cues=[(0.0, 0.1, "hi")])),
        make_sample(image=encode_image(photo("coffee", (32, 32)), "PNG"), text=b"a"),
        make_sample(text=b"a"),
    ]
    chain = run_chain(shortest, load_params(), None, through="augmented")
    assert sum(len(v) for v in chain.quarantined.values()) == 0, chain.all_quarantined()  # all legal: each lands everywhere
    staged = [s.evolve(sample_id=hashlib.sha256(f"{stage}:{s.sample_id}".encode()).hexdigest()) for stage, rows in chain.landed.items() for s in rows]
    return shortest + staged


@dataclass
class Run:
    outputs: list = field(default_factory=list)
    raised: list[tuple[str, str]] = field(default_factory=list)  # (sample_id, exception type) for rows that raised
    inputs_ok: list[Sample] = field(default_factory=list)  # rows the operator did not raise on
    mutated: bool = False


def _run(op, corpus: list[Sample]) -> Run:
    ctx = OpContext(batch="contract", seed=3, workers=2)
    before = copy.deepcopy(corpus)
    run = Run()
    try:
        run.outputs, run.inputs_ok = op.apply(list(corpus), ctx), list(corpus)
    except Exception:  # noqa: BLE001  (the contract is that nothing escapes; record what did)
        for s in corpus:  # like the runner: find the rows that trigger it
            try:
                run.outputs.extend(op.apply([s], ctx))
                run.inputs_ok.append(s)
            except Exception as exc:  # noqa: BLE001
                run.raised.append((s.sample_id, type(exc).__name__))
    run.mutated = corpus != before
    return run


@pytest.fixture(scope="module")
def runs(corpus):
    cache: dict[str, tuple[Run, Run]] = {}

    def get(name: str) -> tuple[Run, Run]:
        if name not in cache:
            cache[name] = (_run(REGISTRY[name](), corpus), _run(REGISTRY[name](), corpus))
        return cache[name]

    return get


@pytest.mark.parametrize("name", OPS)
def test_never_raises(runs, name: str) -> None:
    first, _ = runs(name)
    assert first.raised == []


@pytest.mark.parametrize("name", OPS)
def test_one_result_per_input_keeping_its_id(runs, name: str) -> None:
    first, _ = runs(name)
    ids = [s.sample_id for s in first.inputs_ok]
    rows = [r for r in first.outputs if r.sample_id in set(ids)]
    variants = [r for r in first.outputs if r.sample_id not in set(ids)]
    assert [r.sample_id for r in rows] == ids
    for r in first.outputs:
        assert isinstance(r, (Sample, Quarantined))
        if isinstance(r, Quarantined):
            assert isinstance(r.reason, Reason) and r.detail
    for v in variants:
        assert isinstance(v, Sample) and v.parent_id in set(ids) and v.aug_op == name
    assert len({v.sample_id for v in variants}) == len(variants)


_ADDRESS = re.compile(r" at 0x[0-9a-f]+")

# Quarantine details that embed a Python object's repr (and so its memory address) differ from run to run.
def _without_addresses(outputs: list) -> list:
    return [
        Quarantined(r.sample, r.reason, _ADDRESS.sub(" at 0x…", r.detail), r.op) if isinstance(r, Quarantined) else r
        for r in outputs
    ]


@pytest.mark.parametrize("name", OPS)
def test_deterministic(runs, name: str) -> None:
    first, second = runs(name)
    # memory addresses in details are checked on their own below; everything else must match exactly
    assert _without_addresses(first.outputs) == _without_addresses(second.outputs)
    assert first.raised == second.raised


@pytest.mark.parametrize("name", OPS)
def test_quarantine_details_are_reproducible_text(runs, name: str) -> None:
    first, _ = runs(name)
    details = [r.detail for r in first.outputs if isinstance(r, Quarantined)]
    assert [d for d in details if _ADDRESS.search(d)] == []


@pytest.mark.parametrize("name", OPS)
def test_picklable_with_its_outputs(runs, name: str) -> None:
    op = REGISTRY[name]()
    assert pickle.loads(pickle.dumps(op)) == op
    first, _ = runs(name)
    assert pickle.loads(pickle.dumps(first.outputs)) == first.outputs


@pytest.mark.parametrize("name", OPS)
def test_never_mutates_its_input(runs, name: str) -> None:
    first, _ = runs(name)
    assert not first.mutated
