"""The API reference lists every public module; the Sphinx build itself runs in scripts/test.sh."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "brubeck"
# Names kept so older imports work: they re-export what the reference documents elsewhere.
NOT_IN_REFERENCE = {"brubeck", "brubeck.__main__", "brubeck.request_handling"}


def _modules() -> set[str]:
    found = set()
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(part.startswith("_") and part != "__main__" for part in parts):
            continue
        found.add(".".join(parts))
    return found


def _is_moved_shim(module: str) -> bool:
    relative = Path(*module.split("."))
    path = ROOT / relative.with_suffix(".py")
    if not path.exists():
        path = ROOT / relative / "__init__.py"
    docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
    return docstring.startswith("Moved")


def test_api_reference_lists_every_public_module() -> None:
    listed = {line.strip() for line in (ROOT / "docs" / "api.rst").read_text().splitlines()
              if line.strip().startswith("brubeck")}
    expected = {m for m in _modules() - NOT_IN_REFERENCE if not _is_moved_shim(m)}
    assert not expected - listed, f"add to docs/api.rst: {sorted(expected - listed)}"
    assert not listed - _modules(), f"gone from brubeck/: {sorted(listed - _modules())}"


def test_every_guide_is_in_the_site() -> None:
    index = (ROOT / "docs" / "index.rst").read_text()
    assert ":glob:" in index and "   *" in index  # every docs/*.rst is a guide page
