"""The three supervised forms of `brubeck serve`, from the command line's facts to a Supervisor.

- local: `--mongrel2 --workers N` runs Mongrel2 from a chroot plus N workers;
- remote: `--connection mongrel2://PULL,PUB --workers N` runs N workers for a
  Mongrel2 elsewhere (no local Mongrel2);
- WSGI: `--port P --workers N` runs N WSGI workers on one listening socket.

Mongrel2 workers go through this host's dispatcher unless `dispatcher=False`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import parse_qs, urlencode

from ..mongrel2 import config as mongrel2_config
from ..mongrel2.config import CONFIG_NAME, IPC_PUB, IPC_PULL, Mongrel2Config
from .kinds import DirectWorkers, DispatchedWorkers, Kind, WSGIWorkers
from .reload import Watcher, watched_roots
from .supervisor import Mongrel2Process, Supervisor

log = logging.getLogger("brubeck.workers")


def prepare(chroot: Path, port: int | None = None) -> dict[str, str]:
    """Write a config when the chroot has none, then `m2sh load` it; return its facts.

    A config written here is for local workers only: its handler sockets are
    ipc paths in the chroot's 0700 `run/`, which no other local user can reach.
    """
    chroot = Path(chroot).resolve()
    if not (chroot / CONFIG_NAME).exists():
        options: dict[str, object] = {"pull_addr": IPC_PULL, "pub_addr": IPC_PUB}
        if port:
            options["port"] = port
        Mongrel2Config(chroot=chroot, **options).write()  # type: ignore[arg-type]
        log.warning("wrote %s", chroot / CONFIG_NAME)
    for name in mongrel2_config.CHROOT_DIRS:
        (chroot / name).mkdir(exist_ok=True)
    mongrel2_config.load(chroot)
    return mongrel2_config.read_back(chroot)


def _mongrel2_kind(pull_addr: str, pub_addr: str, options: dict[str, str],
                   dispatcher: bool) -> Kind:
    if dispatcher:
        return DispatchedWorkers(pull_addr, pub_addr, options)
    query = f"?{urlencode(options)}" if options else ""
    return DirectWorkers(f"mongrel2://{pull_addr},{pub_addr}{query}")


def _supervisor(target: str, workers: int, kind: Kind, *, reload: bool = False,
                **options: object) -> Supervisor:
    watch = Watcher(watched_roots(target)) if reload else None
    return Supervisor(target, workers, kind, watch=watch, **options)  # type: ignore[arg-type]


def serve(target: str, chroot: Path, workers: int, concurrency: str | None = None,
          port: int | None = None, *, dispatcher: bool = True, shutdown_timeout: float = 30.0,
          reload: bool = False) -> int:
    """Load (or write) the config in `chroot`; supervise Mongrel2 and the workers."""
    chroot = Path(chroot).resolve()
    facts = prepare(chroot, port)
    missing = {"server_uuid", "pull_addr", "pub_addr"} - set(facts)
    if missing:
        raise SystemExit(f"brubeck: {chroot / CONFIG_NAME} lacks {sorted(missing)}")
    pull, pub = (mongrel2_config.outside_address(facts[k], chroot)
                 for k in ("pull_addr", "pub_addr"))
    options = {"chroot": str(chroot)}
    if "upload_store" in facts:
        options["upload_store"] = facts["upload_store"]
    log.warning("mongrel2 serves http://%s:%s", facts.get("bind_addr", "127.0.0.1"),
                facts.get("port", "?"))
    kind = _mongrel2_kind(pull, pub, options, dispatcher)
    return _supervisor(target, workers, kind, reload=reload, concurrency=concurrency,
                       shutdown_timeout=shutdown_timeout,
                       mongrel2=Mongrel2Process(chroot, facts["server_uuid"])).run()


def serve_remote(target: str, connection_url: str, workers: int,
                 concurrency: str | None = None, *, dispatcher: bool = True,
                 shutdown_timeout: float = 30.0, reload: bool = False) -> int:
    """N workers (and this host's dispatcher) for a Mongrel2 that runs elsewhere."""
    rest = connection_url.partition("://")[2]
    pair, _, query = rest.partition("?")
    addresses = [a.strip() for a in pair.split(",")]
    if len(addresses) != 2:
        raise SystemExit(f"brubeck: expected mongrel2://PULL_ADDR,PUB_ADDR, got "
                         f"{connection_url!r}")
    try:
        pull, pub = (mongrel2_config.check_zmq_address(a) for a in addresses)
    except ValueError as error:
        raise SystemExit(f"brubeck: {error}") from None
    options = {k: v[-1] for k, v in parse_qs(query).items()}
    kind = _mongrel2_kind(pull, pub, options, dispatcher)
    return _supervisor(target, workers, kind, reload=reload, concurrency=concurrency,
                       shutdown_timeout=shutdown_timeout).run()


def serve_wsgi(target: str, host: str, port: int, workers: int,
               concurrency: str | None = None, *, shutdown_timeout: float = 30.0,
               reload: bool = False) -> int:
    """N WSGI workers sharing one listening socket opened here."""
    return _supervisor(target, workers, WSGIWorkers(host, port), reload=reload,
                       concurrency=concurrency, shutdown_timeout=shutdown_timeout).run()
