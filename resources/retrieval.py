"""The retrieval gate: a golden set that ships with the project (scikit-image's photos with our
captions, and queries that say the same thing in other words), embedded with the table's models;
recall@k of query → the right item, searched the way `tessera search` searches (every vector
space the models reach, fused by reciprocal rank).

A release records the figure (`retrieval` in its manifest); the next release is refused when it
falls below the last release's value minus `release.retrieval_margin` (a model or a change that
makes search worse does not ship unnoticed). The `embedded` asset reports it too (a WARN check).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

# scikit-image file → (the caption stored with it, a query that says the same in other words)
GOLDEN = {
    "astronaut.png": ("a portrait of an astronaut with the American flag on the left", "a space explorer in a suit next to a US flag"),
    "chelsea.png": ("a tabby cat looking at the camera", "a striped kitten staring at us"),
    "rocket.jpg": ("a rocket standing on a launchpad", "a spacecraft waiting for lift-off"),
    "camera.png": ("a person looking through a camera on a tripod", "a photographer taking a picture"),
    "horse.png": ("a black-and-white silhouette of a horse", "the dark outline of a stallion"),
    "coffee.png": ("a cup of coffee on a saucer", "an espresso in a mug"),
    "motorcycle_left.png": ("a red motorcycle parked on a street", "a motorbike standing by the road"),
    "hubble_deep_field.jpg": ("galaxies scattered across deep space", "a telescope image of distant stars and nebulae"),
    "coins.png": ("old coins laid out in rows", "a collection of antique money"),
    "page.png": ("a scanned page of printed text", "a document with paragraphs of writing"),
}
K = (1, 3)


def golden_photos() -> dict[str, bytes]:
    import skimage.data

    folder = Path(skimage.data.__file__).parent
    return {name: (folder / name).read_bytes() for name in GOLDEN}


def recall(models: Any) -> dict[str, Any]:
    """recall@1 and @3 of the golden queries, with the encoders `models` (core.encoders.Models) has:
    caption vectors by the text model, and picture vectors through CLIP's two towers when CLIP is
    there. Each space ranks the golden items; the ranks are fused as search fuses them."""
    text, image = models.encoder("text"), models.encoder("image")
    key = tuple(f"{e.model_id}@{e.revision}" if e is not None else "" for e in (text, image))
    if key not in _RECALLS:  # the figure depends on the models alone: once per process (a warm host runs batch after batch)
        _RECALLS[key] = _recall(text, image)
    return dict(_RECALLS[key])


_RECALLS: dict[tuple[str, ...], dict[str, Any]] = {}


def _recall(text: Any, image: Any) -> dict[str, Any]:
    names = list(GOLDEN)
    captions, queries = [GOLDEN[n][0] for n in names], [GOLDEN[n][1] for n in names]
    rankings: dict[str, np.ndarray] = {}
    spaces: dict[str, str] = {}
    if text is not None:
        rankings["text"] = _ranks(text.encode(queries), text.encode(captions))
        spaces["text"] = f"{text.model_id}@{text.revision}"
    if image is not None and hasattr(image, "encode_text"):
        try:
            photos = golden_photos()
            rankings["image"] = _ranks(image.encode_text(queries), image.encode([photos[n] for n in names]))
            spaces["image"] = f"{image.model_id}@{image.revision}"
        except LookupError as exc:  # CLIP without its text tower: pictures cannot be searched by words here
            spaces["image"] = f"not scored: {exc}"
    if not rankings:
        return {"items": len(names), "spaces": spaces, "scored": False, "why": "no text or image encoder here"}
    fused = sum(1.0 / (60 + r) for r in rankings.values())  # (query, item) → fused score, as resources/search.fuse
    order = np.argsort(-fused, axis=1, kind="stable")
    out: dict[str, Any] = {"items": len(names), "spaces": spaces, "scored": True}
    for k in K:
        out[f"recall@{k}"] = round(float(np.mean([i in order[i, :k] for i in range(len(names))])), 4)
    return out


def _ranks(q: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """1-based rank of each doc for each query by cosine (vectors are unit length)."""
    sims = np.asarray(q, np.float32) @ np.asarray(docs, np.float32).T
    return np.argsort(np.argsort(-sims, axis=1, kind="stable"), axis=1) + 1


def gate(now: Mapping[str, Any], last: Mapping[str, Any] | None, margin: float, k: int = 1) -> str | None:
    """None when `now` may ship against the last release's figure; else why not, in one line."""
    key = f"recall@{k}"
    if not now.get("scored") or not last or not (last.get("retrieval") or {}).get("scored"):
        return None  # nothing to compare (the first release, or no encoder here or then)
    before = float(last["retrieval"][key])
    if float(now[key]) < before - margin:
        return (f"retrieval {key} on the golden set is {now[key]:.2f}, below release {last['name']}'s {before:.2f} − {margin} "
                f"(spaces: {', '.join(f'{s} {m}' for s, m in now['spaces'].items())}); find what made search worse, or cut it with --force")  # fmt: skip
    return None
