"""core.discover: a landing drop (files + optional manifest) becomes raw samples, and every input is accounted for."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tessera.core.discover import Discovery, LandingError, discover, split_source
from tessera.core.records import Reason, compute_sample_id


class MemoryLanding:
    """A landing drop held in a dict: `list()` and `read(name)` (the Landing protocol)."""

    def __init__(self, files: dict[str, bytes], unreadable: dict[str, LandingError] | None = None) -> None:
        self.files = files
        self.unreadable = unreadable or {}

    def list(self) -> list[str]:
        return sorted({*self.files, *self.unreadable})

    def read(self, name: str) -> bytes:
        if name in self.unreadable:
            raise self.unreadable[name]
        if name not in self.files:
            raise LandingError(Reason.BAD_PATH, f"{name!r} is not in the landing drop")
        return self.files[name]


def accounted(d: Discovery) -> Counter[str]:
    """How many rows (landed or quarantined) name each input in their `source`."""
    names: Counter[str] = Counter()
    for s in d.samples:
        names.update(split_source(s.source))
    for q in d.quarantined:
        names.update(split_source(q.sample.source))
    return names


def assert_every_input_once(d: Discovery) -> None:
    assert accounted(d) == Counter(d.inputs)
    assert len(set(d.inputs)) == len(d.inputs)


def reasons(d: Discovery) -> dict[str, str]:
    """input name → reason, for quarantined rows naming a single input."""
    return {split_source(q.sample.source)[0]: q.reason.value for q in d.quarantined if len(split_source(q.sample.source)) == 1}


def test_files_pair_by_stem(astronaut_jpeg, tone_wav, srt_bytes, camera_png) -> None:
    landing = MemoryLanding(
        {
            "pets/cat.jpg": astronaut_jpeg,
            "pets/cat.txt": b"a cat on a mat",
            "talk/intro.wav": tone_wav,
            "talk/intro.srt": srt_bytes,
            "talk/intro.png": camera_png,
        }
    )
    d = discover(landing, "b1")
    assert d.quarantined == []
    by_source = {s.source: s for s in d.samples}
    cat = by_source[json.dumps(["pets/cat.jpg", "pets/cat.txt"])]
    assert cat.modalities == ["text", "image"]
    assert cat.formats == {"image": "jpeg", "text": "txt"}
    assert cat.media["text"] == b"a cat on a mat" and cat.media["image"] == astronaut_jpeg
    intro = by_source[json.dumps(["talk/intro.png", "talk/intro.srt", "talk/intro.wav"])]
    assert intro.modalities == ["image", "audio", "subtitles"]
    assert intro.formats["subtitles"] == "srt"
    assert_every_input_once(d)


def test_caption_named_after_the_full_file_name_pairs_too(astronaut_png) -> None:
    d = discover(MemoryLanding({"a/dog.png": astronaut_png, "a/dog.png.txt": b"a dog"}), "b1")
    (s,) = d.samples
    assert s.modalities == ["text", "image"]


def test_same_stem_same_modality_stays_apart(astronaut_png, camera_png) -> None:
    d = discover(MemoryLanding({"x.png": astronaut_png, "x.jpg": camera_png, "x.txt": b"which one?"}), "b1")
    assert sorted(s.modalities for s in d.samples) == [["image"], ["image"], ["text"]]
    assert_every_input_once(d)


def test_ids_come_from_bytes_not_names(astronaut_png) -> None:
    a = discover(MemoryLanding({"one/a.png": astronaut_png, "one/a.txt": b"hi"}), "b1").samples[0]
    b = discover(MemoryLanding({"two/zzz.png": astronaut_png, "two/zzz.txt": b"hi"}), "b2").samples[0]
    assert a.sample_id == b.sample_id == compute_sample_id({"image": astronaut_png, "text": b"hi"})
    assert a.raw_sha256 == b.raw_sha256 and a.source != b.source


def test_same_content_twice_is_one_sample_and_one_duplicate(astronaut_png) -> None:
    d = discover(MemoryLanding({"a.png": astronaut_png, "copies/b.png": astronaut_png}), "b1")
    (kept,) = d.samples
    (dup,) = d.quarantined
    assert dup.reason is Reason.DUPLICATE and dup.sample_id == kept.sample_id
    assert kept.source in dup.detail
    assert_every_input_once(d)


def test_bad_files_get_their_reasons(astronaut_png, random_bytes) -> None:
    landing = MemoryLanding(
        {
            "ok.png": astronaut_png,
            "empty.png": b"",
            "blob.bin": random_bytes,
            "fake.jpg": random_bytes[:100] + b"x",
            "notes": b"no suffix",
        },
        unreadable={"link.png": LandingError(Reason.BAD_PATH, "symlink leaves the landing root")},
    )
    d = discover(landing, "b1")
    assert [s.source for s in d.samples] == [json.dumps(["ok.png"])]
    got = reasons(d)
    assert got == {
        "empty.png": "EMPTY",
        "blob.bin": "UNSUPPORTED",
        "fake.jpg": "CORRUPT",
        "notes": "UNSUPPORTED",
        "link.png": "BAD_PATH",
    }
    fake = next(q for q in d.quarantined if "fake.jpg" in q.sample.source)
    assert "image" in fake.detail
    assert_every_input_once(d)


CSV_MANIFEST = (
    b"sample,image,audio,text\n"
    b"s1,imgs/one.png,,first caption\n"
    b"s2,../outside.png,,second caption\n"
    b"s3,/etc/passwd,,\n"
    b"s4,imgs/missing.png,sounds/tone.wav,\n"
    b"s5,sounds/tone2.wav,,mislabelled\n"
)


@pytest.fixture
def manifest_drop(astronaut_png, tone_wav, camera_png) -> MemoryLanding:
    return MemoryLanding(
        {
            "manifest.csv": CSV_MANIFEST,
            "imgs/one.png": astronaut_png,
            "sounds/tone.wav": tone_wav,
            "sounds/tone2.wav": tone_wav[:-2] + b"\0\1",
            "imgs/loose.png": camera_png,
        }
    )


def test_csv_manifest_rows_become_samples(manifest_drop: MemoryLanding) -> None:
    d = discover(manifest_drop, "b1", manifest_drop.read("manifest.csv"), "manifest.csv")
    by_source = {s.source: s for s in d.samples}
    s1 = by_source[json.dumps(["imgs/one.png", "manifest.csv#2"])]
    assert s1.modalities == ["text", "image"] and s1.media["text"] == b"first caption"
    loose = by_source[json.dumps(["imgs/loose.png"])]  # not in the manifest: paired by stem as usual
    assert loose.modalities == ["image"]
    assert "manifest.csv" not in {n for s in d.samples for n in split_source(s.source)}


def test_a_row_that_loses_a_part_lands_nothing(manifest_drop: MemoryLanding) -> None:
    """Row 5 names sounds/tone.wav and imgs/missing.png: the audio is not landed alone."""
    d = discover(manifest_drop, "b1", manifest_drop.read("manifest.csv"), "manifest.csv")
    assert "sounds/tone.wav" not in {n for s in d.samples for n in split_source(s.source)}
    got = reasons(d)
    assert got["sounds/tone.wav"] == "UNPAIRED" and got["manifest.csv#5"] == "UNPAIRED"
    assert "imgs/missing.png" in next(q.detail for q in d.quarantined if q.sample.source == json.dumps(["manifest.csv#5"]))
    assert_every_input_once(d)


def test_manifest_paths_that_leave_the_root_are_bad_paths(manifest_drop: MemoryLanding) -> None:
    d = discover(manifest_drop, "b1", manifest_drop.read("manifest.csv"), "manifest.csv")
    got = reasons(d)
    assert got["manifest.csv#3:../outside.png"] == "BAD_PATH"
    assert got["manifest.csv#4:/etc/passwd"] == "BAD_PATH"
    assert got["manifest.csv#5:imgs/missing.png"] == "BAD_PATH"
    assert got["sounds/tone2.wav"] == "CORRUPT"  # the manifest says image, the bytes are audio
    assert "leaves the landing root" in next(q.detail for q in d.quarantined if "outside" in q.sample.source)


def test_windows_style_paths_are_refused(astronaut_png) -> None:
    manifest = b'{"image": "C:\\\\data\\\\x.png"}\n{"image": "..\\\\x.png"}\n'
    d = discover(MemoryLanding({"m.jsonl": manifest, "x.png": astronaut_png}), "b1", manifest, "m.jsonl")
    got = reasons(d)
    assert got["m.jsonl#1:C:\\data\\x.png"] == "BAD_PATH" and got["m.jsonl#2:..\\x.png"] == "BAD_PATH"


def test_jsonl_manifest_and_its_broken_lines(astronaut_png, tone_wav) -> None:
    manifest = (
        b'{"image": "p/a.png", "text": "an astronaut"}\n\nnot json at all\n["a", "list"]\n{"audio": "./s/b.wav", "text": null}\n'
    )
    landing = MemoryLanding({"m.jsonl": manifest, "p/a.png": astronaut_png, "s/b.wav": tone_wav})
    d = discover(landing, "b1", manifest, "m.jsonl")
    assert sorted(s.modalities for s in d.samples) == [["audio"], ["text", "image"]]
    got = reasons(d)
    assert got == {"m.jsonl#3": "CORRUPT", "m.jsonl#4": "CORRUPT"}
    assert_every_input_once(d)


def test_manifest_that_is_not_utf8_is_one_corrupt_row(astronaut_png) -> None:
    manifest = "image,text\nx.png,caf\xe9\n".encode("latin-1")
    d = discover(MemoryLanding({"m.csv": manifest, "x.png": astronaut_png}), "b1", manifest, "m.csv")
    assert reasons(d)["m.csv#manifest"] == "CORRUPT"
    assert [s.source for s in d.samples] == [json.dumps(["x.png"])]  # the file is still discovered by itself
    assert_every_input_once(d)


def test_every_input_accounted_for_once_in_a_messy_drop(manifest_drop: MemoryLanding, random_bytes) -> None:
    manifest = CSV_MANIFEST.replace(b"sample,", b"key,") + b"s6,imgs/one.png,,same file again\n"
    manifest_drop.files.update(
        {"manifest.csv": manifest, "junk.bin": random_bytes, "empty.txt": b"", "copy.png": manifest_drop.files["imgs/one.png"]}
    )
    d = discover(manifest_drop, "b1", manifest, "manifest.csv")
    assert_every_input_once(d)
    assert {q.reason for q in d.quarantined} >= {Reason.BAD_PATH, Reason.CORRUPT, Reason.UNSUPPORTED, Reason.EMPTY}


def test_row_with_an_id_and_only_bad_paths_is_still_accounted_for() -> None:
    manifest = b"sample,image\ncat-01,../escape.png\n"
    d = discover(MemoryLanding({"manifest.csv": manifest}), "b1", manifest, "manifest.csv")
    assert_every_input_once(d)


def test_files_without_suffix_in_a_dotted_folder_do_not_pair(astronaut_png, tone_wav) -> None:
    d = discover(MemoryLanding({"v1.2/cat": astronaut_png, "v1.2/dog": tone_wav}), "b1")
    assert sorted(s.modalities for s in d.samples) == [["audio"], ["image"]]


def test_tracks_tagged_with_their_language_pair_with_their_media(tone_wav, srt_bytes) -> None:
    d = discover(MemoryLanding({"talk/intro.wav": tone_wav, "talk/intro.en.srt": srt_bytes, "talk/intro.de.txt": b"Hallo zusammen"}), "b1")
    (s,) = d.samples
    assert s.modalities == ["text", "audio", "subtitles"]


def test_a_row_with_nothing_usable_fails_for_its_part_reason(astronaut_png) -> None:
    """A row naming only a path that leaves the drop is BAD_PATH itself; only an empty file, EMPTY."""
    manifest = b"sample,image\nout,/etc/passwd\nnone,empty.png\nok,x.png\n"
    d = discover(MemoryLanding({"m.csv": manifest, "x.png": astronaut_png, "empty.png": b""}), "b1", manifest, "m.csv")
    got = reasons(d)
    assert got["m.csv#2"] == "BAD_PATH" and got["m.csv#2:/etc/passwd"] == "BAD_PATH"
    assert got["m.csv#3"] == "EMPTY" and got["empty.png"] == "EMPTY"
    assert "/etc/passwd" in next(q.detail for q in d.quarantined if q.sample.source == json.dumps(["m.csv#2"]))
    assert_every_input_once(d)
