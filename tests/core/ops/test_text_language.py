"""text.language: the caption's language and probability on the row, from a model that ships in
its package; `und` when too short or unsure; an `allowed` list quarantines the others."""

from __future__ import annotations

from tessera.core.ops.unified.text_language import TextLanguage
from tessera.core.records import Quarantined, Reason, Sample
from tessera.core.schema import arrow_to_samples, samples_to_arrow


def _s(text: str) -> Sample:
    return Sample(sample_id=text[:8] or "empty", batch="b", source="[]", modalities=["text", "image"], text=text)


def test_languages_and_their_probability_land_on_the_row() -> None:
    en, fr, short = TextLanguage().apply([_s("a dog catching a frisbee in the park"), _s("un chien qui attrape un frisbee dans le parc"), _s("ok")], None)
    assert (en.language, fr.language, short.language) == ("en", "fr", "und")
    assert en.language_score > 0.9 and short.language_score == 0.0
    rows, _ = samples_to_arrow([en], run_id="r", code_version="c", input_version=1, stage="unified")
    (back,) = arrow_to_samples(rows)
    assert (back.language, back.language_score) == ("en", en.language_score)


def test_an_allowed_list_quarantines_captions_in_other_languages() -> None:
    de, en, short = TextLanguage(allowed=("en",)).apply([_s("ein Hund fängt eine Frisbeescheibe im Park"), _s("a dog catching a frisbee"), _s("ok")], None)
    assert isinstance(de, Quarantined) and de.reason is Reason.UNSUPPORTED and de.detail.startswith("caption language de (p=")
    assert en.language == "en" and short.language == "und"  # undetermined is kept


def test_the_model_is_unpacked_once_into_the_temp_folder_and_a_damaged_copy_is_not_trusted(tmp_path, monkeypatch) -> None:
    import tempfile

    from tessera.core.decode import text

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    text._identifier.cache_clear()
    assert text.identify("Ein Hund fängt eine Frisbee im Park")[0] == "de"
    (copy,) = tmp_path.glob("tessera-py3langid-*")
    assert sorted(p.name for p in copy.iterdir()) == sorted(f"{name}.npy" for name in text.MODEL_ARRAYS)
    table = copy / "nextmove.npy"
    table.write_bytes(table.read_bytes()[:4096])  # cut short, as by a full disk
    text._identifier.cache_clear()
    assert text.identify("A dog catches a frisbee in the park")[0] == "en"  # read from the package instead
    assert not copy.exists()  # and the damaged copy removed, to be made again
    text._identifier.cache_clear()
    assert text.identify("Un chien attrape un frisbee dans le parc")[0] == "fr"
    assert table.stat().st_size > 30_000_000
    text._identifier.cache_clear()
