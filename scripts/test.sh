#!/usr/bin/env bash
# Install what the test suite needs, then run it once per concurrency backend.
#   bash scripts/test.sh            # everything
#   bash scripts/test.sh -k cookie  # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
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

echo "== installing brubeck with all extras"
"$PYTHON" -m pip install -q --disable-pip-version-check -e '.[all,test]'

status=0
for backend in gevent eventlet; do
  echo "== test suite on $backend"
  BRUBECK_CONCURRENCY=$backend "$PYTHON" -m pytest -p no:cacheprovider "$@" || status=1
done
exit $status
