"""image.nsfw: NudeNet's real detector scores real photos; a score over the limit goes to the
steward as UNSAFE (or lands flagged), and the score stays on the row either way."""

from __future__ import annotations

import io

import numpy as np
import pytest
import skimage.data
from PIL import Image

from tessera.core.nsfw import LABELS, class_scores
from tessera.core.ops.unified.image_nsfw import ImageNsfw
from tessera.core.records import Quarantined, Reason, Sample


def _photo(name: str) -> Image.Image:
    return Image.fromarray(getattr(skimage.data, name)()).convert("RGB")


def _sample(name: str) -> Sample:
    buf = io.BytesIO()
    _photo(name).save(buf, "PNG")
    return Sample(sample_id=name, batch="b", source=f"{name}.png", modalities=["image"], media={"image": buf.getvalue()})


def test_the_detector_sees_what_is_in_real_photos() -> None:
    """The astronaut's portrait: a woman's face, found with confidence; the cat: none."""
    scores = class_scores([_photo("astronaut"), _photo("chelsea")])
    face = LABELS.index("FACE_FEMALE")
    assert scores[0, face] > 0.6 and scores[1, face] < 0.3


def test_ordinary_photos_pass_with_their_score_on_the_row() -> None:
    out = ImageNsfw().apply([_sample("astronaut"), _sample("chelsea"), _sample("rocket")])
    assert all(isinstance(o, Sample) and 0.0 <= o.metrics["nsfw_score"] < 0.2 for o in out)


def test_over_the_limit_goes_to_the_steward_or_lands_flagged() -> None:
    """A limit under the coffee cup's false positive (0.34 as exposed buttocks) shows both actions."""
    s = _sample("coffee")
    (held,) = ImageNsfw(max_score=0.2).apply([s])
    assert isinstance(held, Quarantined) and held.reason is Reason.UNSAFE and held.sample.metrics["nsfw_score"] > 0.2
    (flagged,) = ImageNsfw(max_score=0.2, action="flag").apply([s])
    assert isinstance(flagged, Sample) and any(f.startswith("image.nsfw:") for f in flagged.flags)
    with pytest.raises(ValueError, match="action"):
        ImageNsfw(action="drop")


def test_rows_without_a_picture_pass_untouched() -> None:
    text = Sample(sample_id="t", batch="b", source="t.txt", modalities=["text"], text="a caption")
    assert ImageNsfw().apply([text]) == [text]
    assert np.asarray(class_scores([])).shape == (0, len(LABELS))
