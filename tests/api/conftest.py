"""The lake the API tests read: the demo drop through every stage, released as v1, then one more
captioned photo in batch `later` (so the latest and v1 differ). Built once per session; the
environment points at it only inside each test (`home`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import skimage.data

from tessera.orchestration.cli import ingest, materialize, release
from tessera.orchestration.demo import build_demo_corpus

PHOTOS = Path(skimage.data.__file__).parent


def _env(mp: pytest.MonkeyPatch, home: Path) -> None:
    mp.setenv("TESSERA_HOME", str(home))
    mp.setenv("DAGSTER_HOME", str(home / "dagster"))
    mp.setenv("TESSERA_RELEASES_DIR", str(home / "releases"))
    for name in ("TESSERA_LAKE_URI", "TESSERA_PARAMS", "TESSERA_SERVE_URL", "TESSERA_TOKEN"):
        mp.delenv(name, raising=False)


@pytest.fixture(scope="session")
def api_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("api")
    with pytest.MonkeyPatch.context() as mp:
        _env(mp, home)
        (home / "dagster").mkdir()
        (home / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        ingest(str(build_demo_corpus(home / "drops/demo")), "demo")
        assert materialize("demo", quiet=True)["success"]
        release("v1")
        later = home / "drops/later"
        later.mkdir(parents=True)
        shutil.copyfile(PHOTOS / "motorcycle_left.png", later / "bike.png")
        (later / "bike.txt").write_text("a red motorcycle parked on a street\n")
        ingest(str(later), "later")
        assert materialize("later", quiet=True)["success"]
    return home


@pytest.fixture
def home(api_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    _env(monkeypatch, api_home)
    return api_home
