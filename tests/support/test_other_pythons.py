"""The other Pythons (3.10, 3.12, 3.13): one constraints file pins all four, and
scripts/test.sh runs the shared handler suite under each one pyenv has."""

import subprocess

from packaging.markers import Marker

from tests.support.processes import ROOT
from tests.support.test_packaging import TEST_SH, script

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


def pins_for(python: str) -> dict[str, str]:
    """constraints/ci.txt as pip reads it on `python` (X.Y): {name: version}."""
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints" / "ci.txt").read_text().splitlines()[1:]:
        pin, _, marker = line.partition("; ")
        name, version = pin.split("==")
        if not marker or Marker(marker).evaluate({"python_version": python}):
            assert name not in pins, f"two pins of {name} apply on {python}"
            pins[name] = version
    return pins


def test_issue19_3_one_pin_per_distribution_on_each_python():
    everywhere = [pins_for(python) for python in PYTHONS]
    assert all({"gevent", "eventlet", "pyzmq", "pytest"} <= set(p) for p in everywhere)
    # 3.10 cannot install 3.11's numpy (it needs >=3.11): its own older release
    assert pins_for("3.10")["numpy"] != pins_for("3.11")["numpy"]
    assert {"exceptiongroup", "tomli"} <= set(pins_for("3.10"))


def test_issue19_3_pins_marks_only_what_differs_and_keeps_the_default():
    merged = script("pins").merge("3.11", {
        "gevent": {"3.10": "26.9.0", "3.11": "26.9.0", "3.13": "26.9.0"},
        "numpy": {"3.10": "2.2.6", "3.11": "2.4.6", "3.13": "2.4.6"},
        "tomli": {"3.10": "2.5.0"},
    })
    assert merged == [
        "gevent==26.9.0",
        'numpy==2.4.6; python_version != "3.10"',
        'numpy==2.2.6; python_version == "3.10"',
        "tomli==2.5.0",
    ]


def pyenv_python(versions_dir, version: str) -> str:
    """What scripts/test.sh's pyenv_python answers for `version` under `versions_dir`."""
    function = TEST_SH[TEST_SH.index("pyenv_python() {"):]
    function = function[:function.index("\n}\n") + 3]
    program = f'set -euo pipefail\n{function}\nPYENV_VERSIONS="$1"\npyenv_python "$2"\n'
    return subprocess.run(["bash", "-c", program, "bash", str(versions_dir), version],
                          check=True, capture_output=True, text=True).stdout.strip()


def test_issue19_3_test_sh_finds_the_newest_pyenv_python_of_each_version(tmp_path):
    for name in ["3.10.9", "3.10.13", "3.13.0t", "3.1.4"]:
        (tmp_path / name / "bin").mkdir(parents=True)
        (tmp_path / name / "bin" / "python").symlink_to("/bin/true")
    assert pyenv_python(tmp_path, "3.10") == f"{tmp_path}/3.10.13/bin/python"
    assert pyenv_python(tmp_path, "3.13") == ""  # a free-threaded build is not 3.13
    assert pyenv_python(tmp_path, "3.12") == ""


def test_issue19_3_test_sh_runs_the_suite_on_the_other_pythons_and_fails_on_failure():
    assert 'OTHER_PYTHON_VERSIONS=${OTHER_PYTHON_VERSIONS-3.10 3.12 3.13}' in TEST_SH
    assert 'tests/suite || status=1' in TEST_SH
    step = TEST_SH[TEST_SH.index('if [ "${OTHER_PYTHONS:-}" = 1 ]'):]
    assert 'for backend in gevent eventlet' in step and '"${pin[@]}"' in step
    assert 'if [ "${CI:-}" = true ]; then' in step  # a missing Python fails CI
