"""The layout rules of ARCHITECTURE.md §1, read from the source: every import names the one public
package (`tessera.core`, never a bare `core` a user's environment may also have), and `core/` stays
pure (no dagster, lancedb, great_expectations or dvc)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUBPACKAGES = ("core", "assets", "resources", "expectations", "orchestration", "steward")
NOT_IN_CORE = ("dagster", "lancedb", "lance", "great_expectations", "dvc")


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _sources() -> list[Path]:
    folders = [*SUBPACKAGES, "tessera", "tests"]
    benches = sorted((ROOT / "bench").glob("*.py"))  # not bench/out: what benches write there (a peer's venv) is not the project's
    return [p for f in folders for p in sorted((ROOT / f).rglob("*.py")) if "__pycache__" not in p.parts] + benches


def test_every_import_of_the_project_goes_through_the_tessera_package() -> None:
    bare = [
        f"{p.relative_to(ROOT)}:{line}: import {name}"
        for p in _sources()
        for line, name in _imports(p)
        if name.split(".")[0] in SUBPACKAGES
    ]
    assert not bare, "import these as tessera.<name>:\n" + "\n".join(bare)


def test_code_run_from_strings_imports_the_tessera_package_too() -> None:
    """Scripts the tests and benches hand to `python -c` or a Ray worker."""
    pattern = re.compile(rf"^\s*(from|import) ({'|'.join(SUBPACKAGES)})[. ]", re.MULTILINE)
    bare = [
        f"{p.relative_to(ROOT)}:{node.lineno}: {node.value.strip()[:80]!r}"
        for p in _sources()
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and pattern.search(node.value)
    ]
    assert not bare, "import these as tessera.<name>:\n" + "\n".join(bare)


def test_core_never_imports_the_outside_world() -> None:
    leaks = [
        f"{p.relative_to(ROOT)}:{line}: import {name}"
        for p in sorted((ROOT / "core").rglob("*.py"))
        for line, name in _imports(p)
        if name.split(".")[0] in NOT_IN_CORE
    ]
    assert not leaks, "core/ is pure processing:\n" + "\n".join(leaks)
