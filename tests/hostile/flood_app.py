"""The hostile app in a process of its own, for tests that watch it from outside.

A worker busy parsing would also stall a test running in its event loop, so
tests that measure whether one request blocks others serve from here. Run
with BRUBECK_CONNECTION set (WSGI or Mongrel2) and BRUBECK_CONCURRENCY.
"""

from tests.hostile.app import build_hostile_app

app = build_hostile_app()

if __name__ == "__main__":
    app.run()
