"""core.records and core.augment: ids from bytes, copies not mutations, reproducible variant ids."""

from __future__ import annotations

import pytest

from tessera.core.augment import make_variant, variant_id, variant_seed
from tessera.core.records import Reason, Sample, compute_sample_id


def test_sample_id_depends_on_bytes_and_modality_not_on_order() -> None:
    a = compute_sample_id({"image": b"pixels", "text": b"caption"})
    b = compute_sample_id({"text": b"caption", "image": b"pixels"})
    assert a == b and len(a) == 64
    assert compute_sample_id({"audio": b"pixels", "text": b"caption"}) != a
    assert compute_sample_id({"image": b"pixels", "text": b"caption!"}) != a


def test_unknown_modality_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown modalities"):
        compute_sample_id({"depth": b"x"})


def test_evolve_copies_and_leaves_the_original_alone(make_sample) -> None:
    s = make_sample(text=b"hello")
    t = s.evolve(text="hello").with_metrics(chars=5.0)
    t.media["extra"] = b"x"
    assert s.text is None and s.metrics == {} and "extra" not in s.media
    assert t.sample_id == s.sample_id


def test_quarantine_keeps_the_sample(make_sample) -> None:
    s = make_sample(text=b"")
    q = s.quarantine(Reason.EMPTY, "text is empty")
    assert q.sample is s and q.sample_id == s.sample_id and q.op == ""


def test_variant_ids_and_seeds_are_reproducible(make_sample) -> None:
    parent = make_sample(text=b"x").evolve(vectors={"vec_text__m": [1.0]}, encoders={"text": "m@1"})
    assert variant_id(parent.sample_id, "image.hflip", {"a": 1, "b": 2}) == variant_id(
        parent.sample_id, "image.hflip", {"b": 2, "a": 1}
    )
    assert variant_seed(1, parent.sample_id, "audio.noise") == variant_seed(1, parent.sample_id, "audio.noise")
    assert variant_seed(1, parent.sample_id, "audio.noise") != variant_seed(2, parent.sample_id, "audio.noise")
    v = make_variant(parent, "image.hflip", {"axis": "horizontal"}, text="y")
    assert isinstance(v, Sample) and v.parent_id == parent.sample_id and v.text == "y"
    assert v.vectors == {} and v.encoders == {} and parent.vectors == {"vec_text__m": [1.0]}
