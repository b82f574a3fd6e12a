"""`brubeck` / `python -m brubeck`: serve an app, print the config table.

    brubeck serve examples/hello/app.py:app --port 8000
    brubeck serve myproject.web:app --concurrency eventlet
    brubeck mongrel2 config --dir mongrel2 --port 6767
    brubeck serve app.py:app --mongrel2 --workers 4 --mongrel2-dir mongrel2

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

    if args.mongrel2:
        serve_mongrel2(args)
        return
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


def serve_mongrel2(args: argparse.Namespace) -> None:
    """Mongrel2 in the foreground plus `--workers` processes (this process supervises)."""
    import logging

    from .workers import serve as supervise

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    raise SystemExit(supervise(args.target, Path(args.mongrel2_dir), args.workers,
                               args.concurrency, args.port))


def mongrel2_config(args: argparse.Namespace) -> None:
    from .mongrel2.config import Mongrel2Config

    config = Mongrel2Config(chroot=Path(args.dir), port=args.port, bind_addr=args.bind,
                            pull_addr=args.pull, pub_addr=args.pub, protocol=args.protocol)
    target = config.chroot / "m2.conf"
    if target.exists() and not args.force:
        raise SystemExit(f"brubeck: {target} exists (use --force to overwrite)")
    path = config.write()
    sys.stdout.write(f"wrote {path}\nworkers connect with BRUBECK_CONNECTION="
                     f"'{config.connection_url()}'\n")


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
    run.add_argument("--mongrel2", action="store_true",
                     help="run mongrel2 and --workers worker processes behind it")
    run.add_argument("--workers", type=int, default=1, help="worker processes (--mongrel2)")
    run.add_argument("--mongrel2-dir", default="mongrel2",
                     help="chroot holding m2.conf (written when missing)")
    run.set_defaults(func=serve)

    m2 = commands.add_parser("mongrel2", help="Mongrel2 helpers")
    m2_commands = m2.add_subparsers(dest="m2_command", required=True)
    m2_config = m2_commands.add_parser("config", help="write a Mongrel2 config (m2.conf)")
    m2_config.add_argument("--dir", default="mongrel2", help="the server chroot")
    m2_config.add_argument("--port", type=int, default=6767, help="HTTP port")
    m2_config.add_argument("--bind", default="127.0.0.1", help="HTTP bind address")
    m2_config.add_argument("--pull", default="tcp://127.0.0.1:9999",
                           help="handler send_spec (workers PULL)")
    m2_config.add_argument("--pub", default="tcp://127.0.0.1:9998",
                           help="handler recv_spec (workers PUB)")
    m2_config.add_argument("--protocol", choices=["tnetstring", "json"], default="tnetstring")
    m2_config.add_argument("--force", action="store_true", help="overwrite m2.conf")
    m2_config.set_defaults(func=mongrel2_config)

    table = commands.add_parser("config-table", help="print the config keys as RST")
    table.set_defaults(func=config_table)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
