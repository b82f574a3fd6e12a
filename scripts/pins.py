"""Print constraints/ci.txt: exact versions of what CI installs, read from this interpreter.

    python3 -m pip install -U -e '.[all,test]'       # the newest the extras allow
    bash scripts/test.sh                               # passes? then pin them:
    python3 scripts/pins.py > constraints/ci.txt

Pinned: every distribution brubeck[all,test] pulls in here (its requirements
followed through the installed metadata, markers evaluated for this Python),
plus the build tools the packaging check uses, resolved in a scratch venv.
pyproject.toml keeps its lower bounds, so users still get newer releases; only
CI waits until someone re-pins on purpose.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
BUILD_TOOLS = ["build", "setuptools"]


def closure(name: str, extras: set[str]) -> dict[str, str]:
    """{distribution: version} for `name[extras]` and everything it requires, as installed."""
    pins: dict[str, str] = {}
    todo = [(name, frozenset(extras))]
    seen = set()
    while todo:
        dist_name, wanted = todo.pop()
        if (canonicalize_name(dist_name), wanted) in seen:
            continue
        seen.add((canonicalize_name(dist_name), wanted))
        dist = metadata.distribution(dist_name)
        key = canonicalize_name(dist.metadata["Name"])
        if key != canonicalize_name(name):
            pins[key] = dist.version
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is not None and not any(
                    req.marker.evaluate({"extra": extra}) for extra in (wanted or {""})):
                continue
            todo.append((req.name, frozenset(req.extras)))
    return pins


def build_tools(keep: dict[str, str]) -> dict[str, str]:
    """Versions of the build tools (and their requirements) pip picks today, agreeing
    with `keep` where both need the same distribution."""
    with tempfile.TemporaryDirectory() as scratch:
        venv = Path(scratch) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        shared = [f"{n}=={v}" for n, v in keep.items() if n in {"packaging"}]
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-U",
                        *BUILD_TOOLS, *shared], check=True, stdout=sys.stderr)
        frozen = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "freeze", "--all"],
                                check=True, capture_output=True, text=True).stdout
    pins = {}
    for line in frozen.splitlines():
        name, _, version = line.partition("==")
        if version and canonicalize_name(name) != "pip":
            pins[canonicalize_name(name)] = version
    return pins


def main() -> int:
    pins = closure("brubeck", {"all", "test"})
    for name, version in build_tools(pins).items():
        pins.setdefault(name, version)
    python = ".".join(map(str, sys.version_info[:2]))
    print(f"# What CI installs, exactly (CPython {python}). Regenerate on purpose, after "
          "pip install -U -e '.[all,test]' passes: python3 scripts/pins.py > constraints/ci.txt")
    for name in sorted(pins):
        print(f"{name}=={pins[name]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
