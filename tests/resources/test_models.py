"""resources.models: a model that is not on this machine is reported (per modality, in one line)
without importing torch or transformers to find out, and models load when first used."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_an_uncached_hub_model_is_reported_without_importing_torch(tmp_path: Path) -> None:
    probe = (
        "import sys\nfrom tessera.resources.models import ModelsResource\n"
        "m = ModelsResource(image_model='example-org/no-such-clip', audio_model='example-org/no-such-clap').load()\n"
        "print(m.encoder('image'), 'torch' in sys.modules, 'transformers' in sys.modules)\n"
        "print(m.why('audio'))\n"
        "print(m.transcriber is not None, 'torch' in sys.modules)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HF_HOME": str(tmp_path / "hf"), "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=180, cwd=REPO, env=env)
    lines = done.stdout.splitlines()
    assert lines[:1] == ["None False False"], done.stderr[-1500:]
    assert lines[1].startswith(
        "example-org/no-such-clap is not in the local Hugging Face cache and models.allow_download is false"
    )
    assert lines[2] == "True False"  # Whisper (CTranslate2) on the CPU: no torch either
