"""dedup.exact: content that already landed in another batch is a DUPLICATE naming that batch."""

from __future__ import annotations

from core.ops.base import OpContext
from core.ops.cleaned.dedup_exact import DedupExact
from core.records import Quarantined, Reason, Sample


def test_sample_seen_in_another_batch_is_duplicate_naming_it(make_sample, astronaut_png, camera_png) -> None:
    old, new = make_sample(image=astronaut_png), make_sample(image=camera_png)
    asked: list[list[str]] = []

    def seen_elsewhere(ids: list[str]) -> dict[str, str]:
        asked.append(list(ids))
        return {old.sample_id: "2024-05-01"} if old.sample_id in ids else {}

    out = DedupExact().apply([old, new], OpContext(batch="2024-06-01", seen_elsewhere=seen_elsewhere))
    assert isinstance(out[0], Quarantined) and out[0].reason is Reason.DUPLICATE
    assert "2024-05-01" in out[0].detail
    assert out[1] is new or out[1] == new
    assert asked == [[old.sample_id, new.sample_id]]  # one lookup for the whole batch


def test_nothing_is_flagged_when_nothing_landed_before(make_sample, astronaut_png, camera_png) -> None:
    rows = [make_sample(image=astronaut_png), make_sample(image=camera_png)]
    out = DedupExact().apply(rows, OpContext(batch="b1"))
    assert out == rows and all(isinstance(r, Sample) for r in out)


def test_ids_not_in_the_batch_are_ignored(make_sample, astronaut_png) -> None:
    s = make_sample(image=astronaut_png)
    out = DedupExact().apply([s], OpContext(batch="b2", seen_elsewhere=lambda ids: {"f" * 64: "b0"}))
    assert out == [s]
