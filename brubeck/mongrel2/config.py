"""Write a working Mongrel2 config for a Brubeck app, and load it with `m2sh`.

The generated server runs in the foreground (`server.daemonize` 0), chroots
into a directory holding `run/`, `logs/`, `tmp/` and `static/`, binds HTTP
and both ZeroMQ sockets to 127.0.0.1 (or `ipc://` paths, or a private
interface for workers on other hosts), and routes `/` to one handler with
`recv_ident=''` (so every worker's replies pass Mongrel2's SUB filter) and
the `tnetstring` protocol (cleaner than Mongrel2's JSON). Its request limits
are Brubeck's, so Mongrel2 refuses what Brubeck would refuse anyway.

An `ipc://` path is seen from two places: Mongrel2 running as root chroots
before it binds (an absolute path lands inside the chroot, a relative one
under it either way, as it is started in the chroot), while workers and the
dispatcher run outside. `outside_address` gives the path they must use.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from ..limits import Limits, MiB
from . import wire
from .uploads import UPLOAD_TEMPLATE, UploadStore

CONFIG_NAME = "m2.conf"
DATABASE_NAME = "config.sqlite"
CHROOT_DIRS = ("run", "logs", "tmp", "static")
MAX_BUFFER = 32 * 1024
#: sun_path holds 108 bytes with its NUL: longer ipc paths fail to bind.
MAX_IPC_PATH = 107
#: The handler sockets `--ipc` writes: relative, so the same inside and outside the chroot.
IPC_PULL = "ipc://run/handler-send.sock"
IPC_PUB = "ipc://run/handler-recv.sock"


def _quote(value: str) -> str:
    """A config string literal; quotes, backslashes and control characters are refused."""
    if any(c in "'\\" or ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError(f"cannot put {value!r} in a Mongrel2 config")
    return f"'{value}'"


def check_port(port: int) -> int:
    """A TCP port number, 1 to 65535."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"port must be a number from 1 to 65535, not {port!r}")
    return port


def check_zmq_address(address: str) -> str:
    """`tcp://HOST:PORT` or `ipc://PATH`, as Mongrel2 and pyzmq take them; else ValueError."""
    scheme, sep, rest = address.partition("://")
    if scheme == "tcp" and sep:
        host, colon, port = rest.rpartition(":")
        if colon and host and port.isdigit() and not any(c in host for c in "/?# "):
            check_port(int(port))
            return address
    elif scheme == "ipc" and sep and rest and "\x00" not in rest:
        if len(rest.encode()) > MAX_IPC_PATH:
            raise ValueError(f"{address!r}: an ipc path is at most {MAX_IPC_PATH} bytes")
        return address
    raise ValueError(f"{address!r} is not a ZeroMQ address: use tcp://HOST:PORT or ipc://PATH")


def mongrel2_chroots() -> bool:
    """Mongrel2 chroots (and then binds) only when it runs as root."""
    return os.geteuid() == 0


def outside_address(address: str, chroot: Path, chrooted: bool | None = None) -> str:
    """The address a process outside Mongrel2's chroot uses for Mongrel2's `address`.

    A relative ipc path is under the chroot (Mongrel2 starts there); an absolute
    one is inside it only if Mongrel2 chroots (runs as root). tcp is unchanged.
    """
    if not address.startswith("ipc://"):
        return address
    path = address[len("ipc://"):]
    if path.startswith("/") and not (mongrel2_chroots() if chrooted is None else chrooted):
        return address
    return check_zmq_address(f"ipc://{Path(chroot).resolve() / path.lstrip('/')}")


def handler_addresses(host: str, pull_port: int = 9999, pub_port: int = 9998) -> tuple[str, str]:
    """The handler sockets bound to one interface (`--handler-host`), for workers elsewhere."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return (check_zmq_address(f"tcp://{host}:{check_port(pull_port)}"),
            check_zmq_address(f"tcp://{host}:{check_port(pub_port)}"))


def allowed_max_fd(requested: int) -> int:
    """The `superpoll.max_fd` Mongrel2 can set: at most this host's hard RLIMIT_NOFILE
    (raising it takes CAP_SYS_RESOURCE, which even root lacks in most containers;
    asked for more, Mongrel2 would keep its current soft limit, often 1024)."""
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return requested if hard == resource.RLIM_INFINITY else min(requested, hard)


@dataclass
class Mongrel2Config:
    """One Mongrel2 server with a static directory and one Brubeck handler route."""

    chroot: Path
    port: int = 6767
    bind_addr: str = "127.0.0.1"
    pull_addr: str = "tcp://127.0.0.1:9999"  # Mongrel2's send_spec: workers PULL here
    pub_addr: str = "tcp://127.0.0.1:9998"   # Mongrel2's recv_spec: workers PUB here
    protocol: str = "tnetstring"
    host_name: str = "localhost"
    static_route: str = "/static/"
    #: The Dir handler's base, relative to the chroot (Mongrel2 serves nothing outside
    #: it): `brubeck.static.mongrel2_dir(app static_path, chroot)` computes it.
    static_dir: str = "static/"
    handler_route: str = "/"
    #: More Brubeck handlers on their own routes: {route: (pull_addr, pub_addr)},
    #: e.g. an API served by other processes than the pages (as Readify did).
    extra_handlers: dict[str, tuple[str, str]] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    spool_uploads: bool = False  # see `settings`
    memory_body: int = 1 * MiB  # with spool_uploads, bodies above this go to upload_store
    upload_store: str = UPLOAD_TEMPLATE
    #: Connections Mongrel2 may hold open (`superpoll.max_fd`; its own default, 10240,
    #: is about 10,000 WebSockets). It registers fds below 65536 only; `settings` caps
    #: this at what an unprivileged Mongrel2 may set (see `allowed_max_fd`).
    max_fd: int = 65536
    #: Seconds a client may stay silent before Mongrel2 closes its connection (if it is
    #: also slow both ways): `limits.min_ping`, 0 for never. WebSockets need
    #: `websocket_ping_interval` below it (a client's pong counts as activity).
    min_ping: int = 120
    server_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    sender_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def __post_init__(self) -> None:
        self.chroot = Path(self.chroot).resolve()
        check_port(self.port)
        for address in (self.pull_addr, self.pub_addr,
                        *(a for pair in self.extra_handlers.values() for a in pair)):
            check_zmq_address(address)
            outside_address(address, self.chroot)  # its path outside fits sun_path too
        if self.protocol not in ("tnetstring", "json"):
            raise ValueError("protocol must be 'tnetstring' or 'json'")
        # Mongrel2 reads a reply's sender as letters, digits and '-' only: any other
        # send_ident would make every reply unreadable to it (clients would hang).
        wire.sender_text(self.sender_id)
        UploadStore(self.upload_store)  # absolute, ending in XXXXXX for mkstemp

    @property
    def settings(self) -> dict[str, int | str]:
        """Mongrel2 settings from Brubeck's limits.

        Mongrel2 1.12.2 corrupts spooled uploads (bytes past ~4 KiB) whenever
        `limits.buffer_size` is set, and stalls them at 64 KiB. So by default
        the buffer holds request heads up to 32 KiB and bodies up to Brubeck's
        maximum stay in memory: only an oversize body spools, and gets a 413 at
        `upload-start`. `spool_uploads=True` keeps Mongrel2's own buffer size
        (heads up to ~4 KiB) and spools bodies over `memory_body` to disk.
        """
        settings: dict[str, int | str] = {
            "server.daemonize": 0,
            "zeromq.threads": 1,
            "limits.url_path": self.limits.request_line,
            # Mongrel2 silently drops headers past its count: let one more through
            # so that Brubeck sees the overflow and answers 431.
            "limits.header_count": self.limits.header_count + 1,
            "limits.handler_targets": 128,
            "limits.min_ping": self.min_ping,
            "superpoll.max_fd": allowed_max_fd(self.max_fd),
            "upload.temp_store": self.upload_store,
        }
        if self.spool_uploads:
            settings["limits.content_length"] = min(self.memory_body, self.limits.body)
        else:
            settings["limits.buffer_size"] = min(self.limits.header_bytes, MAX_BUFFER)
            settings["limits.content_length"] = self.limits.body
        return settings

    def _handler(self, variable: str, pull_addr: str, pub_addr: str, sender_id: str) -> str:
        return f"""{variable} = Handler(
    send_spec={_quote(pull_addr)},
    send_ident={_quote(sender_id)},
    recv_spec={_quote(pub_addr)},
    recv_ident='',
    protocol={_quote(self.protocol)})
"""

    def render(self) -> str:
        """The config text that `m2sh load` reads."""
        settings = ", ".join(
            f"{_quote(k)}: {v if isinstance(v, int) else _quote(v)}"
            for k, v in self.settings.items()
        )
        handlers = [self._handler("brubeck_handler", self.pull_addr, self.pub_addr,
                                  self.sender_id)]
        routes = [f"{_quote(self.static_route)}: static_dir",
                  f"{_quote(self.handler_route)}: brubeck_handler"]
        for number, (route, (pull, pub)) in enumerate(self.extra_handlers.items(), 1):
            handlers.append(self._handler(f"handler_{number}", pull, pub,
                                          f"{self.sender_id}-{number}"))
            routes.append(f"{_quote(route)}: handler_{number}")
        handler_text = "\n".join(handlers)
        route_text = ",\n        ".join(routes)
        return f"""# Written by `brubeck mongrel2 config`; load: m2sh load -config {CONFIG_NAME}
{handler_text}
static_dir = Dir(
    base={_quote(self.static_dir)},
    index_file='index.html',
    default_ctype='text/plain')

brubeck_host = Host(
    name={_quote(self.host_name)},
    routes={{
        {route_text}}})

brubeck_server = Server(
    uuid={_quote(self.server_uuid)},
    access_log='/logs/access.log',
    error_log='/logs/error.log',
    chroot='./',
    pid_file='/run/mongrel2.pid',
    default_host={_quote(self.host_name)},
    name='brubeck',
    bind_addr={_quote(self.bind_addr)},
    port={int(self.port)},
    hosts=[brubeck_host])

settings = {{{settings}}}

servers = [brubeck_server]
"""

    def write(self) -> Path:
        """Create the chroot dirs and write m2.conf; return its path.

        `run/` (the pid file and any ipc sockets) is 0700: no other local user
        can reach a handler socket there and answer clients in Brubeck's name.
        """
        for name in CHROOT_DIRS:
            (self.chroot / name).mkdir(parents=True, exist_ok=True)
        (self.chroot / "run").chmod(0o700)
        path = self.chroot / CONFIG_NAME
        path.write_text(self.render())
        return path

    def connection_url(self) -> str:
        """`BRUBECK_CONNECTION` for workers behind this server."""
        options = urlencode({"upload_store": self.upload_store, "chroot": str(self.chroot)})
        pull, pub = (outside_address(a, self.chroot) for a in (self.pull_addr, self.pub_addr))
        return f"mongrel2://{pull},{pub}?{options}"


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct free TCP ports on `host`: every socket stays bound until all are chosen."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in sockets]


def load(chroot: Path, config_name: str = CONFIG_NAME) -> Path:
    """`m2sh load` the config into config.sqlite inside `chroot`."""
    env = dict(os.environ)
    env.setdefault("LOGNAME", "brubeck")  # m2sh asks getlogin(), absent in containers
    subprocess.run(["m2sh", "load", "-config", config_name, "-db", DATABASE_NAME],
                   cwd=chroot, env=env, check=True, stdout=subprocess.DEVNULL)
    return Path(chroot) / DATABASE_NAME


def read_back(chroot: Path) -> dict[str, str]:
    """The bits a supervisor needs from an m2.conf it may not have written."""
    text = (Path(chroot) / CONFIG_NAME).read_text()
    found = {}
    for key, pattern in (("server_uuid", r"\buuid\s*=\s*['\"]([^'\"]+)"),
                         ("pull_addr", r"send_spec\s*=\s*['\"]([^'\"]+)"),
                         ("sender_id", r"send_ident\s*=\s*['\"]([^'\"]+)"),
                         ("pub_addr", r"recv_spec\s*=\s*['\"]([^'\"]+)"),
                         ("protocol", r"protocol\s*=\s*['\"]([^'\"]+)"),
                         ("bind_addr", r"bind_addr\s*=\s*['\"]([^'\"]+)"),
                         ("upload_store", r"upload\.temp_store['\"]\s*:\s*['\"]([^'\"]+)"),
                         ("static_route", r"['\"]([^'\"]+)['\"]\s*:\s*static_dir\b"),
                         ("static_dir", r"\bbase\s*=\s*['\"]([^'\"]+)"),
                         ("port", r"\bport\s*=\s*(\d+)")):
        match = re.search(pattern, text)
        if match:
            found[key] = match.group(1)
    return found


def clear_stale_pid(chroot: Path) -> None:
    """Mongrel2 refuses to start over a pid file whose process is gone."""
    pid_file = Path(chroot) / "run" / "mongrel2.pid"
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        pid_file.unlink(missing_ok=True)
        return
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
    except PermissionError:
        pass


def command(chroot: Path, server_uuid: str) -> list[str]:
    """The foreground Mongrel2 command for a loaded config."""
    return ["mongrel2", str(Path(chroot) / DATABASE_NAME), server_uuid]
