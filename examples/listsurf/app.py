"""Listsurf: save links with a title and tags, find them again, from a browser or a script.

    python examples/listsurf/app.py                 # http://127.0.0.1:8000, SQLite
    python examples/listsurf/app.py --db redis://127.0.0.1:6379/0
    python examples/listsurf/run_mongrel2.py        # pages and API as two processes

`--part web` serves only the pages and `--part api` only `/api/`, which is how
`run_mongrel2.py` runs them as two processes behind one Mongrel2. The data
directory holds the SQLite file and the cookie secret, both made on first run,
so every process started on the same directory shares users and sessions.
`brubeck serve examples/listsurf/app.py:app` works too (settings from
LISTSURF_DATA, LISTSURF_DB, LISTSURF_PART).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from brubeck.app import Brubeck  # noqa: E402
from brubeck.connections import WSGIConnection  # noqa: E402
from brubeck.templating import load_jinja2_env  # noqa: E402


def cookie_secret(data_dir: Path) -> str:
    """LISTSURF_SECRET, else a random secret kept (owner-only) in the data directory."""
    if os.environ.get("LISTSURF_SECRET"):
        return os.environ["LISTSURF_SECRET"]
    path = data_dir / "cookie_secret"
    data_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Written aside, then linked into place: two processes starting together
        # (web and API) agree on one secret and never read a half-written file.
        draft = data_dir / f".cookie_secret.{os.getpid()}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def make_app(data_dir: Path, db: str = "sqlite", part: str = "all",
             msg_conn: Any = None) -> Brubeck:
    """The app serving `part`: 'web' pages, the 'api', or 'all' of them."""
    import api
    import web
    from store import open_store

    routes = {"web": web.ROUTES, "api": api.ROUTES, "all": web.ROUTES + api.ROUTES}[part]
    return Brubeck(
        msg_conn=msg_conn,
        handler_tuples=routes,
        base_handler=web.Page,
        template_loader=load_jinja2_env(str(HERE / "templates")),
        db_conn=open_store(db, data_dir),
        cookie_secret=cookie_secret(data_dir),
        xsrf_cookies=True,
        allowed_hosts=os.environ.get("LISTSURF_ALLOWED_HOSTS", "127.0.0.1 localhost").split(),
        login_url="/login",
    )


def __getattr__(name: str) -> Any:
    """`app` for `brubeck serve app.py:app`, built from the environment on first use."""
    if name != "app":
        raise AttributeError(name)
    app = make_app(Path(os.environ.get("LISTSURF_DATA", HERE / "data")),
                   os.environ.get("LISTSURF_DB", "sqlite"), os.environ.get("LISTSURF_PART", "all"))
    globals()["app"] = app
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Listsurf, a link saver on Brubeck")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--data", type=Path, default=Path(os.environ.get(
        "LISTSURF_DATA", HERE / "data")), help="directory of the SQLite file and secret")
    parser.add_argument("--db", default=os.environ.get("LISTSURF_DB", "sqlite"),
                        help="'sqlite' (default) or a redis:// URL")
    parser.add_argument("--part", choices=["all", "web", "api"], default="all")
    args = parser.parse_args(argv)
    # BRUBECK_CONNECTION (e.g. mongrel2://...) overrides this WSGI default.
    app = make_app(args.data, args.db, args.part, WSGIConnection(args.port, args.host))
    print(f"Listsurf ({args.part}) on {app.msg_conn}, data in {args.data}", flush=True)
    app.run()


if __name__ == "__main__":
    main()
