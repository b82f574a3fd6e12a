#!/usr/bin/env bash
# Install what the test suite needs, then run it once per concurrency backend.
#   bash scripts/test.sh            # everything (what CI runs, through .ci/run)
#   bash scripts/test.sh -k cookie  # extra arguments go to pytest
#
# Python packages are installed at the exact versions in constraints/ci.txt, always
# (not only when CI=true): a new gevent, eventlet or pyzmq release reaches this run
# only when someone re-pins on purpose (how: first line of that file). pyproject.toml
# keeps lower bounds, so users get newer releases. CONSTRAINTS= installs unpinned.
#
# The package check (scripts/check_package.py) builds the sdist and wheel, installs
# the wheel in a fresh venv and runs the hello demo and `brubeck --help` from it,
# so a file or dependency missing from the package fails the run. It runs on a full
# run (no pytest arguments) and whenever CI=true; PACKAGE_CHECK=1 or 0 forces it.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
CONSTRAINTS=${CONSTRAINTS-constraints/ci.txt}
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

for backend in gevent eventlet; do
  echo "== test suite on $backend"
  BRUBECK_CONCURRENCY=$backend "$PYTHON" -m pytest -p no:cacheprovider "$@" || status=1
done
exit $status
