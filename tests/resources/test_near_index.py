"""Near-copies across batches (I6 for near-duplicates): the lake's band index decides, in one
commit per batch, which batch holds a picture or a note; Lance arbitrates concurrent decisions."""

from __future__ import annotations

import io
import multiprocessing as mp
from pathlib import Path
from typing import Any

import pytest
import skimage.data
from PIL import Image

from tessera.core.ops.cleaned.image_decode import ImageDecode
from tessera.core.ops.unified.image_near_dup import ImageNearDup
from tessera.core.ops.unified.text_near_dup import TextNearDup
from tessera.core.records import compute_sample_id
from tessera.resources.lake import LakeResource
from tessera.resources.near_index import SCHEMA, TABLE, release, settle
from tests.resources.test_ledger import _lake  # batches registered in order: the order decides who holds next

OPS = [ImageNearDup(), TextNearDup()]


def _photo(name: str, scale: float = 1.0, quality: int = 0) -> bytes:
    """A scikit-image photo (the same picture at another size or JPEG quality is a near-copy)."""
    im = Image.fromarray(getattr(skimage.data, name)()).convert("RGB").resize((160, 120))
    if scale != 1.0:
        im = im.resize((int(160 * scale), int(120 * scale)), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality) if quality else im.save(buf, "PNG")
    return buf.getvalue()


def _row(image: bytes, caption: str) -> dict[str, Any]:
    """A landed unified row as settle reads it: id, modalities, metrics (hashes from image.decode), text."""
    from tests.core.conftest import build_sample

    (s,) = ImageDecode().apply([build_sample(image=image, text=caption.encode())], None)
    return {"sample_id": s.sample_id, "modalities": ["text", "image"], "metrics": s.metrics, "text": caption}


def _note(text: str) -> dict[str, Any]:
    return {"sample_id": compute_sample_id({"text": text.encode()}), "modalities": ["text"], "metrics": {}, "text": text}


def _settle(lake: LakeResource, batch: str, rows: list[dict[str, Any]], approved: set[str] = frozenset()):
    return settle(lake, batch, OPS, rows, lambda sid, op: sid in approved)


def _holders(lake: LakeResource) -> dict[str, str]:
    """sample id → batch holding it (holder entries of the index)."""
    t = lake.dataset(TABLE).to_table(columns=["sample_id", "batch"], filter="holder_batch IS NULL AND key IS NOT NULL")
    return dict(zip(t["sample_id"].to_pylist(), t["batch"].to_pylist(), strict=True))


ASTRONAUT = _photo("astronaut")
COPY = _photo("astronaut", quality=65)  # re-encoded
SMALLER = _photo("astronaut", scale=0.93, quality=90)  # shrunk
COFFEE = _photo("coffee")


def test_a_near_copy_in_a_later_batch_is_a_duplicate_naming_the_batch_that_holds_it(tmp_path: Path) -> None:
    lake = _lake(tmp_path, "w1", "w2")
    first, other = _row(ASTRONAUT, "an astronaut"), _row(COFFEE, "a cup of coffee")
    assert _settle(lake, "w1", [first, other]).claims == {}
    copy, own = _row(COPY, "NASA portrait"), _row(_photo("chelsea"), "a cat")
    out = _settle(lake, "w2", [copy, own])
    assert set(out.claims) == {copy["sample_id"]}
    claim = out.claims[copy["sample_id"]]
    assert (claim.op, claim.holder_id, claim.holder_batch) == ("image.near_dup", first["sample_id"], "w1") and claim.distance <= 4
    assert claim.detail.startswith(f"near-duplicate of {first['sample_id'][:12]} held by batch 'w1' (")
    assert _holders(lake) == {first["sample_id"]: "w1", other["sample_id"]: "w1", own["sample_id"]: "w2"}
    # a re-run of either batch changes nothing: the first to decide holds, later batches never take over
    assert _settle(lake, "w1", [first, other]).handoffs == {}
    assert set(_settle(lake, "w2", [copy, own]).claims) == {copy["sample_id"]}


def test_notes_near_copied_across_batches_are_held_once(tmp_path: Path) -> None:
    lake = _lake(tmp_path, "a", "b")
    _settle(lake, "a", [_note("The quarterly report is due on Friday, 12 December.")])
    out = _settle(lake, "b", [_note("the quarterly report is due on friday 12 december"), _note("Lunch is at noon.")])
    assert len(out.claims) == 1 and next(iter(out.claims.values())).op == "text.near_dup"


def test_when_the_holder_lets_a_picture_go_the_earliest_claimant_holds_it_and_the_others_name_it(tmp_path: Path) -> None:
    lake = _lake(tmp_path, "a", "b", "c")
    first, in_b, in_c = _row(ASTRONAUT, "x"), _row(COPY, "y"), _row(SMALLER, "z")
    _settle(lake, "a", [first])
    _settle(lake, "c", [in_c])
    _settle(lake, "b", [in_b])
    out = _settle(lake, "a", [_row(COFFEE, "the drop lost the astronaut")])  # a's re-run no longer has it
    assert out.handoffs == {"b": [in_b["sample_id"]]}  # b registered before c
    claims = lake.dataset(TABLE).to_table(columns=["sample_id", "holder_batch", "holder_id"], filter="holder_batch IS NOT NULL").to_pylist()
    assert claims == [{"sample_id": in_c["sample_id"], "holder_batch": "b", "holder_id": in_b["sample_id"]}]
    assert _holders(lake)[in_b["sample_id"]] == "b"
    # b's re-run from unified (what `tessera materialize` runs next) keeps it: nothing else holds it now
    assert _settle(lake, "b", [in_b]).claims == {}


def test_deleting_the_holding_batch_hands_its_pictures_on(tmp_path: Path) -> None:
    lake = _lake(tmp_path, "a", "b")
    first, copy = _row(ASTRONAUT, "x"), _row(COPY, "y")
    _settle(lake, "a", [first])
    _settle(lake, "b", [copy])
    assert release(lake, "a", OPS).handoffs == {"b": [copy["sample_id"]]}
    assert _holders(lake) == {copy["sample_id"]: "b"}
    assert lake.dataset(TABLE).count_rows("batch = 'a'") == 0


def test_a_copy_a_steward_approved_is_kept(tmp_path: Path) -> None:
    lake = _lake(tmp_path, "a", "b")
    first, copy = _row(ASTRONAUT, "x"), _row(COPY, "y")
    _settle(lake, "a", [first])
    assert _settle(lake, "b", [copy], approved={copy["sample_id"]}).claims == {}


def _settle_in_child(uri: str, batch: str, images: list[bytes], start: Any) -> None:
    lake = LakeResource(uri=uri)
    rows = [_row(b, f"{batch} {i}") for i, b in enumerate(images)]
    start.wait(60)  # every process decides at the same moment
    _settle(lake, batch, rows)


@pytest.mark.slow
def test_concurrent_batches_with_near_copies_of_each_other_hold_each_picture_once(tmp_path: Path) -> None:
    """Three processes decide at once over one lake, each with its own copies of the same three
    pictures (other sizes and qualities): Lance arbitrates, each picture is held by one batch."""
    names = ["astronaut", "coffee", "chelsea"]
    variants = {"p": dict(quality=60), "q": dict(scale=0.95, quality=85), "r": dict(scale=0.9)}
    lake = _lake(tmp_path, *variants)
    lake.ensure(TABLE, SCHEMA)
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(len(variants))
    procs = [ctx.Process(target=_settle_in_child, args=(lake.resolved_uri(), b, [_photo(n, **kw) for n in names], start)) for b, kw in variants.items()]
    for p in procs:
        p.start()
    for p in procs:
        p.join(180)
        assert p.exitcode == 0
    t = lake.dataset(TABLE).to_table(columns=["sample_id", "batch", "holder_batch"], filter="batch != '~'").to_pylist()
    held = {(r["sample_id"], r["batch"]) for r in t if r["holder_batch"] is None}
    claims = [r for r in t if r["holder_batch"] is not None]
    assert len(held) == 3 and len(claims) == 6  # three pictures, each held once; the other six copies name a holder
    assert all((r["holder_batch"], r["batch"]) != (None, None) and r["holder_batch"] != r["batch"] for r in claims)
