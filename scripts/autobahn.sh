#!/bin/sh
# Autobahn|Testsuite's fuzzingclient against Brubeck's echo endpoint, per server.
#
#   scripts/autobahn.sh                    # gevent and eventlet WSGI servers
#   scripts/autobahn.sh gevent             # one of them
#   scripts/autobahn.sh m2-1=ws://127.0.0.1:6767/echo   # an endpoint already running
#                                          # (Mongrel2 with 1 or 2 workers, say)
#
# Cases 1-7 and 10 must have no FAILED (the exit status says so); 9.*
# (performance, 16 MiB messages) runs with AUTOBAHN_PERF=1 and is reported;
# 12-13 (permessage-deflate) are out of scope: Brubeck negotiates no extension.
# AUTOBAHN_CASES overrides the case list (e.g. "5.*"). Reports: $OUT/<server>/.
#
# wstest runs only on Python 2.7: installed once into $AUTOBAHN_DIR with pip
# --target from the pyenv 2.7 ($PYTHON2), plus the empty zope/__init__.py that
# a --target install lacks. Not part of .ci/run: CI runs tests/websocket.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON2=${PYTHON2:-$HOME/.pyenv/versions/2.7.18/bin/python}
AUTOBAHN_DIR=${AUTOBAHN_DIR:-$HOME/.cache/brubeck-autobahn}
OUT=${OUT:-$ROOT/build/autobahn}
CASES=${AUTOBAHN_CASES:-"1.*,2.*,3.*,4.*,5.*,6.*,7.*,10.*"}
if [ "${AUTOBAHN_PERF:-0}" = 1 ] && [ -z "${AUTOBAHN_CASES:-}" ]; then CASES="$CASES,9.*"; fi
[ $# -gt 0 ] || set -- gevent eventlet

if [ ! -d "$AUTOBAHN_DIR/site/autobahntestsuite" ]; then
  echo "installing autobahntestsuite into $AUTOBAHN_DIR (Python 2.7: $PYTHON2)"
  "$PYTHON2" -m pip install -q --target "$AUTOBAHN_DIR/site" autobahntestsuite
fi
touch "$AUTOBAHN_DIR/site/zope/__init__.py"

SERVER_PID=
stop_server() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  SERVER_PID=
}
trap stop_server EXIT INT TERM

status=0
for server in "$@"; do
  case "$server" in
    *=*) name=${server%%=*}; url=${server#*=} ;;
    gevent|eventlet)
      name="$server-wsgi"
      port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
      mkdir -p "$OUT"
      BRUBECK_CONCURRENCY=$server PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
        python3 "$ROOT/examples/websocket/echo.py" --port "$port" --max-message-size 16777216 \
        > "$OUT/$name.server.log" 2>&1 &
      SERVER_PID=$!
      python3 "$ROOT/scripts/autobahn/wait_port.py" 127.0.0.1 "$port" 20
      url="ws://127.0.0.1:$port/echo" ;;
    *) echo "unknown server $server (gevent, eventlet or NAME=ws://HOST:PORT/PATH)" >&2; exit 2 ;;
  esac
  report="$OUT/$name"
  mkdir -p "$report"
  python3 "$ROOT/scripts/autobahn/spec.py" "$name" "$url" "$CASES" "$report" > "$report/spec.json"
  echo "== $name ($url): cases $CASES"
  (cd "$report" && PYTHONPATH="$AUTOBAHN_DIR/site" "$PYTHON2" -c \
    'import sys; from autobahntestsuite.wstest import run; sys.argv[1:] = ["-m", "fuzzingclient", "-s", "spec.json"]; run()' \
    > "$report/wstest.log" 2>&1) || { echo "wstest failed: see $report/wstest.log"; status=1; }
  stop_server
  python3 "$ROOT/scripts/autobahn/summary.py" "$report" || status=1
done
exit $status
