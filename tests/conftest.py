"""Shared fixtures: an isolated TESSERA_HOME per test, a tiny CLIP built from config, and the real
S3 server the `s3` and `production` tests share (tests/servers.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import S3Server, running_s3

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach a hub
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture
def tessera_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "tessera"
    monkeypatch.setenv("TESSERA_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    monkeypatch.delenv("TESSERA_LAKE_URI", raising=False)
    return home


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """SeaweedFS on 127.0.0.1 with one bucket, for the whole session (started on first use)."""
    with running_s3(tmp_path_factory.mktemp("s3")) as server:
        yield server


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 16-d CLIP saved like a hub checkpoint: real plumbing, no download."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    path = tmp_path_factory.mktemp("tiny-clip")
    config = CLIPConfig(
        text_config={"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2, "num_hidden_layers": 1, "vocab_size": 128},
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2, "num_hidden_layers": 1, "image_size": 32, "patch_size": 8},
        projection_dim=16,
    )
    CLIPModel(config).save_pretrained(path)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_clap_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 16-d CLAP (HTS-AT audio tower) saved like a hub checkpoint."""
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel

    path = tmp_path_factory.mktemp("tiny-clap")
    config = ClapConfig(
        text_config={"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2, "num_hidden_layers": 1, "vocab_size": 128, "max_position_embeddings": 64},
        # hidden_size must equal patch_embeds_hidden_size * 2**(len(depths)-1); spec_size 256 fits 10 s of 48 kHz mels
        audio_config={
            "patch_embeds_hidden_size": 16, "hidden_size": 32, "depths": [1, 1], "num_attention_heads": [2, 2],
            "window_size": 8, "spec_size": 256, "num_mel_bins": 64, "patch_stride": [4, 4], "patch_size": 4,
        },
        projection_dim=16,
    )  # fmt: skip
    ClapModel(config).save_pretrained(path)
    ClapFeatureExtractor(feature_size=64, truncation="rand_trunc").save_pretrained(path)
    return path
