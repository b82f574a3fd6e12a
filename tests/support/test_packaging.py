"""Packaging: the license ships in the wheel and sdist, CI installs and runs the
built wheel (scripts/check_package.py), and what CI installs is pinned."""

import importlib.util
import io
import re
import tarfile
import zipfile

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: tomli, which pytest itself requires there
    import tomli as tomllib


from packaging.markers import Marker

from tests.support.processes import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
TEST_SH = (ROOT / "scripts" / "test.sh").read_text()


def script(name: str):
    """A module of scripts/ (not a package: they are run as files)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_issue19_4_license_file_is_bsd3_by_the_brubeck_authors():
    text = (ROOT / "LICENSE").read_text()
    assert "Copyright (c) the Brubeck authors" in text
    assert "Neither the name of the copyright holder nor the names of its" in text
    project = PYPROJECT["project"]
    assert project["license"] == "BSD-3-Clause"
    assert project["license-files"] == ["LICENSE"]
    # license-files in [project] (PEP 639) needs setuptools 77
    assert PYPROJECT["build-system"]["requires"] == ["setuptools>=77"]


def fake_dists(tmp_path, package_files, license=True, version="1.0"):
    wheel = tmp_path / f"brubeck-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name in package_files:
            archive.writestr(name, "")
        archive.writestr(f"brubeck-{version}.dist-info/METADATA", "")
        if license:
            archive.writestr(f"brubeck-{version}.dist-info/licenses/LICENSE", "BSD")
    sdist = tmp_path / f"brubeck-{version}.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        names = [f"brubeck-{version}/{name}" for name in package_files]
        names.append(f"brubeck-{version}/pyproject.toml")
        if license:
            names.append(f"brubeck-{version}/LICENSE")
        for name in names:
            archive.addfile(tarfile.TarInfo(name), io.BytesIO(b""))
    return wheel, sdist


def test_issue19_4_package_check_refuses_dists_without_the_license_or_a_module(tmp_path):
    check = script("check_package")
    files = ["brubeck/__init__.py", "brubeck/py.typed", "brubeck/mongrel2/wire.py"]
    complete = tmp_path / "complete"
    complete.mkdir()
    assert check.problems(*fake_dists(complete, files), files) == []

    bare = tmp_path / "bare"
    bare.mkdir()
    found = check.problems(*fake_dists(bare, files[:2], license=False), files)
    assert any("wheel" in p and "LICENSE" in p for p in found), found
    assert any("sdist" in p and "LICENSE" in p for p in found), found
    assert any("wheel" in p and "brubeck/mongrel2/wire.py" in p for p in found), found


def test_issue19_4_package_files_are_what_git_tracks_under_brubeck():
    files = script("check_package").package_files(ROOT)
    assert "brubeck/__init__.py" in files and "brubeck/py.typed" in files
    assert not [f for f in files if "__pycache__" in f or not f.startswith("brubeck/")]


def test_issue19_4_ci_runs_the_package_check():
    assert "exec bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()
    assert re.search(r'"\$PYTHON" scripts/check_package\.py', TEST_SH)


def test_issue19_5_ci_pins_everything_it_installs():
    lines = (ROOT / "constraints" / "ci.txt").read_text().splitlines()
    assert lines[0].startswith("#") and "python3 scripts/pins.py > constraints/ci.txt" in lines[0]
    pins = {}
    for line in lines[1:]:
        pin, _, marker = line.partition("; ")  # one Python's own version (scripts/pins.py)
        name, version = pin.split("==")
        assert re.fullmatch(r"[a-z0-9-]+", name) and re.fullmatch(r"[\w.+!-]+", version), line
        if not marker or Marker(marker).evaluate():
            assert name not in pins, f"two pins of {name} apply here"
            pins[name] = version
    assert {"gevent", "eventlet", "pyzmq", "greenlet", "setuptools", "build"} <= set(pins)
    needed = script("pins").closure("brubeck", {"all", "test"})
    assert not set(needed) - set(pins), "re-pin: python3 scripts/pins.py > constraints/ci.txt"


def test_issue19_5_extras_still_accept_newer_releases():
    extras = PYPROJECT["project"]["optional-dependencies"]
    extra_requirements = [item for items in extras.values() for item in items]
    for requirement in PYPROJECT["project"]["dependencies"] + extra_requirements:
        assert not re.search(r"==|<|~=", requirement), requirement


def test_issue19_5_test_sh_installs_with_the_constraints():
    assert 'CONSTRAINTS=${CONSTRAINTS-constraints/ci.txt}' in TEST_SH
    assert re.search(r'pip install .*"\$\{pin\[@\]\}"', TEST_SH)
