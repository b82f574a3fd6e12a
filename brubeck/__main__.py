"""`brubeck` / `python -m brubeck`: serve an app, print the config table.

    brubeck serve examples/hello/app.py:app --port 8000
    brubeck serve myproject.web:app --concurrency eventlet
    brubeck mongrel2 config --dir mongrel2 --port 6767
    brubeck serve app.py:app --mongrel2 --workers 4 --mongrel2-dir mongrel2
    brubeck serve app.py:app --workers 4 \\
        --connection mongrel2://tcp://10.0.0.1:9999,tcp://10.0.0.1:9998
    brubeck serve app.py:app --port 8000 --workers 2 --reload

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

    # Through the environment, so that supervised workers read them too (config.py).
    if args.log_level:
        os.environ["BRUBECK_LOG_LEVEL"] = args.log_level
    if args.access_log:
        os.environ["BRUBECK_ACCESS_LOG"] = args.access_log
    if args.mongrel2 or args.workers is not None or args.reload:
        supervise(args)
        return
    if args.dispatcher is not None:
        raise SystemExit("brubeck: --dispatcher/--no-dispatcher choose how supervised "
                         "Mongrel2 workers are reached: give --workers N too")
    if args.shutdown_timeout is not None:
        os.environ["BRUBECK_SHUTDOWN_TIMEOUT"] = str(args.shutdown_timeout)
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


def supervise(args: argparse.Namespace) -> None:
    """`--workers`, `--mongrel2` or `--reload`: this process supervises worker processes.

    Workers need a way to be reached: a local Mongrel2 (`--mongrel2`), a remote
    one (`--connection mongrel2://...`) or a port (`--port`, `--connection
    wsgi://...`). Anything else is an error, never a silently ignored option.
    """
    import logging

    from . import workers

    workers_count = 1 if args.workers is None else args.workers
    if workers_count < 1:
        raise SystemExit("brubeck: --workers must be at least 1")
    timeout = args.shutdown_timeout
    if timeout is None:
        timeout = _float_env("BRUBECK_SHUTDOWN_TIMEOUT", 30.0)
    common: dict[str, Any] = {"shutdown_timeout": timeout, "reload": args.reload}
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    scheme = (args.connection or "").partition("://")[0].lower()
    dispatcher = args.dispatcher if args.dispatcher is not None else True
    if args.mongrel2:
        if args.connection:
            raise SystemExit("brubeck: --mongrel2 runs a local Mongrel2; --connection "
                             "mongrel2://... is for one on another host: give one of them")
        status = workers.serve(args.target, Path(args.mongrel2_dir), workers_count,
                               args.concurrency, args.port, dispatcher=dispatcher, **common)
    elif scheme == "mongrel2":
        status = workers.serve_remote(args.target, args.connection, workers_count,
                                      args.concurrency, dispatcher=dispatcher, **common)
    elif scheme == "wsgi" or (not args.connection and args.port is not None):
        _wsgi_only(args)
        host, port = _wsgi_address(args)
        status = workers.serve_wsgi(args.target, host, port, workers_count, args.concurrency,
                                    **common)
    else:
        what = "--reload" if args.workers is None else "--workers"
        raise SystemExit(f"brubeck: {what} needs a way to reach the workers: --port P "
                         "(WSGI), --mongrel2 (a local Mongrel2) or --connection "
                         "mongrel2://PULL,PUB (a Mongrel2 elsewhere)")
    raise SystemExit(status)


def _wsgi_only(args: argparse.Namespace) -> None:
    if args.dispatcher is not None:
        raise SystemExit("brubeck: --dispatcher/--no-dispatcher are for Mongrel2 workers")


def _wsgi_address(args: argparse.Namespace) -> tuple[str, int]:
    if not args.connection:
        return args.host, args.port
    from urllib.parse import urlsplit

    parts = urlsplit(f"//{args.connection.partition('://')[2]}")
    try:
        return parts.hostname or "127.0.0.1", parts.port or 6767
    except ValueError:
        raise SystemExit(f"brubeck: bad port in {args.connection!r}") from None


def _float_env(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        raise SystemExit(f"brubeck: {name} must be a number of seconds, not {value!r}") from None


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 1 to 65535."""
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1 to 65535)")
    return port


def zmq_address(text: str) -> str:
    """An argparse type: tcp://HOST:PORT or ipc://PATH."""
    from .mongrel2.config import check_zmq_address

    try:
        return check_zmq_address(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


#: `brubeck mongrel2 config` options -> Mongrel2Config fields; `--force` keeps these
#: from the existing m2.conf when they are not given.
KEPT_BY_FORCE = {"port": "port", "bind": "bind_addr", "pull": "pull_addr", "pub": "pub_addr",
                 "protocol": "protocol", "static_dir": "static_dir",
                 "static_route": "static_route"}


def mongrel2_config(args: argparse.Namespace) -> None:
    from .mongrel2 import config as m2

    chroot = Path(args.dir)
    target = chroot / m2.CONFIG_NAME
    if target.exists() and not args.force:
        raise SystemExit(f"brubeck: {target} exists (use --force to overwrite it; options "
                         "not given keep their values from it)")
    given = {field: getattr(args, option) for option, field in KEPT_BY_FORCE.items()
             if getattr(args, option) is not None}
    try:
        given.update(_handler_sockets(args, m2))
        kept = _kept_settings(target, given) if target.exists() else {}
        values: dict[str, Any] = {**kept, **given}
        if "port" in values:
            values["port"] = int(values["port"])
        config = m2.Mongrel2Config(chroot=chroot, **values)
    except ValueError as error:
        raise SystemExit(f"brubeck: {error}") from None
    path = config.write()
    if kept:
        shown = ", ".join(f"{k}={v}" for k, v in kept.items() if k not in ("server_uuid",
                                                                           "sender_id"))
        sys.stdout.write(f"kept from the old {m2.CONFIG_NAME}: {shown} and its server uuid\n")
    sys.stdout.write(f"wrote {path}\nworkers connect with BRUBECK_CONNECTION="
                     f"'{config.connection_url()}'\n")


def _handler_sockets(args: argparse.Namespace, m2: Any) -> dict[str, str]:
    """`--ipc` or `--handler-host`: both handler sockets at once (not with --pull/--pub)."""
    if not (args.ipc or args.handler_host):
        return {}
    if args.pull or args.pub or (args.ipc and args.handler_host):
        raise ValueError("give --pull/--pub, --ipc or --handler-host, not several")
    if args.ipc:
        return {"pull_addr": m2.IPC_PULL, "pub_addr": m2.IPC_PUB}
    pull, pub = m2.handler_addresses(args.handler_host)
    return {"pull_addr": pull, "pub_addr": pub}


def _kept_settings(target: Path, given: dict[str, Any]) -> dict[str, Any]:
    """What `--force` keeps: every setting read back from `target` that is not given."""
    from .mongrel2 import config as m2

    found = m2.read_back(target.parent)
    keep = (*KEPT_BY_FORCE.values(), "server_uuid", "sender_id", "upload_store")
    return {k: v for k, v in found.items() if k in keep and k not in given}


def config_table(args: argparse.Namespace) -> None:
    from .config import rst_table

    sys.stdout.write(rst_table())


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="brubeck", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"brubeck {__version__}",
                        help="print the version and exit")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("serve", help="serve an app")
    run.add_argument("target", help="path/to/app.py:app or package.module:app")
    run.add_argument("--host", default="127.0.0.1",
                     help="interface for --port (default: %(default)s)")
    run.add_argument("--port", type=port_number,
                     help="serve over WSGI on this port (with --mongrel2: Mongrel2's HTTP "
                          "port when it writes m2.conf)")
    run.add_argument("--connection",
                     help="wsgi://HOST:PORT, or mongrel2://PULL,PUB for a Mongrel2 on "
                          "another host (with --workers: this host's workers and dispatcher)")
    run.add_argument("--concurrency", choices=["gevent", "eventlet"],
                     help="the backend (default: BRUBECK_CONCURRENCY, the app's config, "
                          "else the first installed)")
    run.add_argument("--mongrel2", action="store_true",
                     help="run a local Mongrel2 and --workers worker processes behind it")
    run.add_argument("--workers", type=int, metavar="N",
                     help="supervise N worker processes (needs --port, --mongrel2 or "
                          "--connection); SIGHUP replaces them one at a time")
    run.add_argument("--mongrel2-dir", default="mongrel2",
                     help="with --mongrel2: the chroot holding m2.conf, written with ipc "
                          "handler sockets when missing (default: %(default)s)")
    run.add_argument("--dispatcher", action=argparse.BooleanOptionalAction, default=None,
                     help="Mongrel2 workers go through this host's dispatcher, which answers "
                          "for a killed worker and routes a connection's messages to one "
                          "worker (default: on; docs/deploy.rst)")
    run.add_argument("--shutdown-timeout", type=float, metavar="SECONDS",
                     help="SIGINT/SIGTERM/SIGHUP: how long workers drain before stragglers "
                          "get 503 (default: BRUBECK_SHUTDOWN_TIMEOUT, else 30)")
    run.add_argument("--reload", action="store_true",
                     help="for development: restart the workers one at a time when the app's "
                          ".py files or templates change (default: off)")
    run.add_argument("--log-level", type=str.upper, metavar="LEVEL",
                     choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
                     help="level of Brubeck's log lines: DEBUG, INFO, WARNING, ERROR "
                          "(default: BRUBECK_LOG_LEVEL, else the app's log_level, else INFO)")
    run.add_argument("--access-log", nargs="?", const="text", choices=["text", "json", "off"],
                     help="one line per request (method, path, status, bytes, ms, request "
                          "id); 'json' for log collectors (default: the app's access_log, "
                          "else off)")
    run.set_defaults(func=serve)

    m2 = commands.add_parser("mongrel2", help="Mongrel2 helpers: write its config")
    m2_commands = m2.add_subparsers(dest="m2_command", required=True)
    m2_config = m2_commands.add_parser("config", help="write a Mongrel2 config (m2.conf)")
    m2_config.add_argument("--dir", default="mongrel2",
                           help="the server chroot (default: %(default)s)")
    m2_config.add_argument("--port", type=port_number, help="HTTP port (default: 6767)")
    m2_config.add_argument("--bind", help="HTTP bind address (default: 127.0.0.1)")
    m2_config.add_argument("--pull", type=zmq_address,
                           help="handler send_spec, where workers or dispatchers PULL "
                                "(default: tcp://127.0.0.1:9999)")
    m2_config.add_argument("--pub", type=zmq_address,
                           help="handler recv_spec, where workers or dispatchers PUB "
                                "(default: tcp://127.0.0.1:9998)")
    m2_config.add_argument("--handler-host", metavar="ADDRESS",
                           help="bind both handler sockets to this interface (ports 9999 and "
                                "9998) for workers on other hosts: a private network only, "
                                "Mongrel2 has no ZeroMQ authentication")
    m2_config.add_argument("--ipc", action="store_true",
                           help="handler sockets as ipc paths in the chroot's 0700 run/: "
                                "local workers only, unreachable to other local users")
    m2_config.add_argument("--static-dir", metavar="DIR",
                           help="what Mongrel2's Dir handler serves, relative to the chroot "
                                "(default: static/; for an app's static_path use "
                                "brubeck.static.mongrel2_dir)")
    m2_config.add_argument("--static-route", metavar="PREFIX",
                           help="the URL prefix it serves (default: /static/, as the app's "
                                "static_url_prefix)")
    m2_config.add_argument("--protocol", choices=["tnetstring", "json"],
                           help="how Mongrel2 sends headers (default: tnetstring)")
    m2_config.add_argument("--force", action="store_true",
                           help="overwrite an existing m2.conf, keeping its port, bind, "
                                "handler addresses, protocol, static dir and route, upload "
                                "store and server uuid "
                                "unless given here")
    m2_config.set_defaults(func=mongrel2_config)

    table = commands.add_parser("config-table", help="print the config keys as RST")
    table.set_defaults(func=config_table)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
