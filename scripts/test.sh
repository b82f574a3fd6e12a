#!/usr/bin/env bash
# Install what the test suite needs, then run it once per concurrency backend.
#   bash scripts/test.sh            # everything (what CI runs, through .ci/run)
#   bash scripts/test.sh -k cookie  # extra arguments go to pytest
#
# The gevent and eventlet runs go side by side (PARALLEL=0: one after the other).
#
# Python packages are installed at the exact versions in constraints/ci.txt, always
# (not only when CI=true): a new gevent, eventlet or pyzmq release reaches this run
# only when someone re-pins on purpose (how: first line of that file). pyproject.toml
# keeps lower bounds, so users get newer releases. CONSTRAINTS= installs unpinned.
#
# The package check (scripts/check_package.py) builds the sdist and wheel, installs
# the wheel in a fresh venv and runs the hello demo and `brubeck --help` from it, and
# the demo under `gunicorn -k gevent` from a venv holding brubeck[gunicorn] alone,
# so a file or dependency missing from the package fails the run. It runs on a full
# run (no pytest arguments) and whenever CI=true; PACKAGE_CHECK=1 or 0 forces it.
#
# The docs (Sphinx, docs/) are built with warnings as errors on a full run and whenever
# CI=true, so a broken reference or docstring fails the run; DOCS=0 skips, DOCS=1 forces.
#
# Other Pythons: after the full suite, the shared handler suite (tests/suite) runs on
# both backends under each of OTHER_PYTHON_VERSIONS that pyenv has, each in its own
# venv under BRUBECK_VENVS (kept between runs: pip then only checks the pins) with what
# that suite needs, brubeck[all] and pytest, at the same pinned versions (about two
# minutes in a fresh place, under one when the venvs are kept). CI machines have
# them all, so with CI=true a missing one fails the run; elsewhere it is skipped with a
# note. Like the package check it runs on a full run and whenever CI=true;
# OTHER_PYTHONS=0 skips it, OTHER_PYTHONS=1 forces it.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
CONSTRAINTS=${CONSTRAINTS-constraints/ci.txt}
OTHER_PYTHON_VERSIONS=${OTHER_PYTHON_VERSIONS-3.10 3.12 3.13}
BRUBECK_VENVS=${BRUBECK_VENVS:-${TMPDIR:-/tmp}/brubeck-venvs}
PYENV_VERSIONS=${PYENV_ROOT:-$HOME/.pyenv}/versions
SYSTEM_PACKAGES="mongrel2-core redis-server chromium chromium-driver wrk"
NEEDED_BINARIES="mongrel2 m2sh redis-server chromium chromedriver wrk"

missing=""
for binary in $NEEDED_BINARIES; do
  command -v "$binary" >/dev/null 2>&1 || missing="$missing $binary"
done
if [ -n "$missing" ]; then
  echo "== installing system packages (missing:$missing)"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $SYSTEM_PACKAGES
fi

pin=()
[ -z "$CONSTRAINTS" ] || pin=(-c "$CONSTRAINTS")
echo "== installing brubeck with all extras (${CONSTRAINTS:-unpinned})"
"$PYTHON" -m pip install -q --disable-pip-version-check "${pin[@]}" -e '.[all,test]'

status=0
if [ "${PACKAGE_CHECK:-}" = 1 ] || { [ "${PACKAGE_CHECK:-}" != 0 ] &&
     { [ $# -eq 0 ] || [ "${CI:-}" = true ]; }; }; then
  echo "== package check: build, install the wheel in a fresh venv, run it"
  "$PYTHON" scripts/check_package.py --constraints "$CONSTRAINTS" || status=1
fi

if [ "${DOCS:-}" = 1 ] || { [ "${DOCS:-}" != 0 ] &&
     { [ $# -eq 0 ] || [ "${CI:-}" = true ]; }; }; then
  echo "== docs: Sphinx, warnings are errors (open docs/_build/html/index.html)"
  rm -rf docs/_api
  "$PYTHON" -m sphinx -W --keep-going -q -b html docs docs/_build/html || status=1
fi

# The two backends' suites run side by side (PARALLEL=0: one after the other). Most
# of a run waits on servers, clients and timeouts, so on CI's 2 cores this nearly
# halves the time. Each run picks its test ports from a range of its own
# (BRUBECK_TEST_PORTS); each writes its own log, printed whole once both are done.
suite() {  # backend, port range, pytest arguments...
  BRUBECK_CONCURRENCY=$1 BRUBECK_TEST_PORTS=$2 "$PYTHON" -m pytest -p no:cacheprovider "${@:3}"
}
if [ "${PARALLEL:-1}" = 1 ]; then
  echo "== test suite on gevent and eventlet, side by side"
  logs=$(mktemp -d)
  suite gevent 20000-25999 "$@" >"$logs/gevent" 2>&1 &
  gevent_run=$!
  suite eventlet 26000-31999 "$@" >"$logs/eventlet" 2>&1 &
  eventlet_run=$!
  wait "$gevent_run" || status=1
  wait "$eventlet_run" || status=1
  for backend in gevent eventlet; do
    echo "== test suite on $backend"
    cat "$logs/$backend"
  done
  rm -rf "$logs"
else
  for backend in gevent eventlet; do
    echo "== test suite on $backend"
    suite "$backend" 20000-31999 "$@" || status=1
  done
fi

# The newest pyenv CPython X.Y.Z for X.Y (not 3.13.0t and the like), or nothing.
pyenv_python() {
  local dir
  for dir in "$PYENV_VERSIONS/$1".*; do
    if [[ $(basename "$dir") =~ ^"$1"\.[0-9]+$ && -x $dir/bin/python ]]; then
      echo "$dir/bin/python"
    fi
  done | sort -V | tail -n 1
}

if [ "${OTHER_PYTHONS:-}" = 1 ] || { [ "${OTHER_PYTHONS:-}" != 0 ] &&
     { [ $# -eq 0 ] || [ "${CI:-}" = true ]; }; }; then
  for version in $OTHER_PYTHON_VERSIONS; do
    python=$(pyenv_python "$version")
    if [ -z "$python" ]; then
      if [ "${CI:-}" = true ]; then
        echo "== FAIL: no CPython $version in $PYENV_VERSIONS (install it: pyenv install $version;" \
             "or leave it out: OTHER_PYTHON_VERSIONS)" >&2
        status=1
      else
        echo "== note: no CPython $version in $PYENV_VERSIONS: its tests/suite run is skipped"
      fi
      continue
    fi
    venv=$BRUBECK_VENVS/py$("$python" -c 'import platform; print(platform.python_version())')
    echo "== Python $version: installing brubeck into $venv (${CONSTRAINTS:-unpinned})"
    if ! { [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"; } ||
       ! "$venv/bin/python" -m pip install -q --disable-pip-version-check "${pin[@]}" \
           -e '.[all]' pytest; then
      echo "== FAIL: could not install brubeck on Python $version" >&2
      status=1
      continue
    fi
    for backend in gevent eventlet; do
      echo "== tests/suite on Python $version, $backend"
      BRUBECK_CONCURRENCY=$backend "$venv/bin/python" -m pytest -p no:cacheprovider -q \
        tests/suite || status=1
    done
  done
fi
exit $status
