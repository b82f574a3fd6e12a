"""Print constraints/ci.txt: exact versions of what CI installs, read from the interpreters.

    python3 -m pip install -U -e '.[all,test]'       # the newest the extras allow
    bash scripts/test.sh                               # passes? then pin them:
    python3 scripts/pins.py > constraints/ci.txt

Pinned: every distribution brubeck[all,test] pulls in here (its requirements
followed through the installed metadata, markers evaluated for this Python),
plus the build tools the packaging check uses, resolved in a scratch venv.
pyproject.toml keeps its lower bounds, so users still get newer releases; only
CI waits until someone re-pins on purpose.

The other Pythons CI tests (scripts/test.sh, OTHER_PYTHONS) install from the
same file, so it also pins what they pull in. Upgrade their venvs too
(`$VENV/bin/python -m pip install -U -e '.[all,test]'`, the venvs are in
${BRUBECK_VENVS:-/tmp/brubeck-venvs}) and name each with --also:

    python3 scripts/pins.py --also /tmp/brubeck-venvs/py3.10/bin/python ... > constraints/ci.txt

A distribution whose version differs between them gets one line per version,
with a python_version marker (a release that dropped 3.10, say); the default
Python's versions are the unmarked truth, so its pins never change for them.
"""

from __future__ import annotations

import argparse
import json
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


def python_version() -> str:
    return ".".join(map(str, sys.version_info[:2]))


def other_closure(python: str) -> tuple[str, dict[str, str]]:
    """(X.Y, pins) of another interpreter that has brubeck[all,test] installed."""
    out = subprocess.run([python, __file__, "--closure"], check=True, capture_output=True,
                         text=True).stdout
    found = json.loads(out)
    return found["python"], found["pins"]


def merge(default: str, pins: dict[str, dict[str, str]]) -> list[str]:
    """Constraint lines: `name==version`, or one marked line per version where Pythons differ.

    `pins` is {distribution: {python X.Y: version}}; the `default` Python's version line
    is marked by exclusion (`!=` every other version's Pythons), the others by `==`."""
    lines = []
    for name in sorted(pins):
        by_version: dict[str, list[str]] = {}
        for python, version in sorted(pins[name].items()):
            by_version.setdefault(version, []).append(python)
        if len(by_version) == 1:
            lines.append(f"{name}=={next(iter(by_version))}")
            continue
        mine = pins[name].get(default)
        others = [p for v, ps in by_version.items() if v != mine for p in ps]
        for version, pythons in sorted(by_version.items(), key=lambda vp: vp[0] != mine):
            if version == mine:
                marker = " and ".join(f'python_version != "{p}"' for p in others)
            else:
                marker = " or ".join(f'python_version == "{p}"' for p in pythons)
            lines.append(f"{name}=={version}; {marker}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--also", action="append", default=[], metavar="PYTHON",
                        help="another interpreter with brubeck[all,test] installed")
    parser.add_argument("--closure", action="store_true",
                        help="print this interpreter's closure as JSON (what --also reads)")
    args = parser.parse_args(argv)
    default = python_version()
    if args.closure:
        print(json.dumps({"python": default, "pins": closure("brubeck", {"all", "test"})}))
        return 0
    mine = closure("brubeck", {"all", "test"})
    for name, version in build_tools(mine).items():
        mine.setdefault(name, version)
    pins = {name: {default: version} for name, version in mine.items()}
    also = []
    for python in args.also:
        version, theirs = other_closure(python)
        also.append(version)
        for name, pinned in theirs.items():
            pins.setdefault(name, {})[version] = pinned
    where = f"; also {', '.join(also)}, a marked line is their own version" if also else ""
    print(f"# What CI installs, exactly (CPython {default}{where}). Regenerate on purpose, "
          "after pip install -U -e '.[all,test]' passes: python3 scripts/pins.py > "
          "constraints/ci.txt (with --also for the other Pythons: see scripts/pins.py)")
    for line in merge(default, pins):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
