"""`brubeck` / `python -m brubeck`: serve an app, print the config table.

    brubeck serve examples/hello/app.py:app --port 8000
    brubeck serve myproject.web:app --concurrency eventlet

The backend is installed before the app module is imported, so its
monkey patching comes first. The connection is chosen through
`BRUBECK_CONNECTION`, so a 0.4 app file that calls `app.run()` at import
time is served on the address given here.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any


def load_target(target: str) -> Any:
    """Import `path/to/file.py:name` or `package.module:name` and return `name`."""
    module_ref, _, attribute = target.partition(":")
    attribute = attribute or "app"
    if module_ref.endswith(".py") or os.sep in module_ref:
        path = Path(module_ref).resolve()
        if not path.is_file():
            raise SystemExit(f"brubeck: no such file {module_ref}")
        sys.path.insert(0, str(path.parent))
        spec = importlib.util.spec_from_file_location("__brubeck_app__", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    else:
        sys.path.insert(0, os.getcwd())
        module = importlib.import_module(module_ref)
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise SystemExit(f"brubeck: {module_ref} has no attribute {attribute!r}") from None


def serve(args: argparse.Namespace) -> None:
    from . import concurrency

    if args.concurrency:
        os.environ[concurrency.ENV_VAR] = args.concurrency
    if args.connection:
        os.environ["BRUBECK_CONNECTION"] = args.connection
    elif args.port is not None:
        os.environ["BRUBECK_CONNECTION"] = f"wsgi://{args.host}:{args.port}"
    try:
        concurrency.select()
    except concurrency.BackendError as error:
        raise SystemExit(f"brubeck: {error}") from None
    app = load_target(args.target)
    app.run()


def config_table(args: argparse.Namespace) -> None:
    from .config import rst_table

    sys.stdout.write(rst_table())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="brubeck", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("serve", help="serve an app")
    run.add_argument("target", help="path/to/app.py:app or package.module:app")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, help="serve over WSGI on this port")
    run.add_argument("--connection", help="wsgi://HOST:PORT or mongrel2://PULL,PUB")
    run.add_argument("--concurrency", choices=["gevent", "eventlet"])
    run.set_defaults(func=serve)

    table = commands.add_parser("config-table", help="print the config keys as RST")
    table.set_defaults(func=config_table)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
