"""Mongrel2 over ZeroMQ: PULL requests from Mongrel2, PUB replies back.

Mongrel2 speaks HTTP and PUSHes each request to whichever worker process is
free, so any number of workers may connect to the same pair of addresses.
Nothing here opens a socket before `run()`, which takes the green pyzmq of
the application's concurrency backend.

Every request gets an answer: a crash is a 500 (from `Brubeck.handle`), a
request running past `request_timeout` is a 504, and on SIGINT or SIGTERM the
worker stops pulling, serves what is already queued, answers stragglers with
503 after `drain_timeout` (the app's `shutdown_timeout`), then returns from
`run()` (docs/shutdown.rst).

A handler can learn its client went away: `message.is_disconnected()` (and
0.4's `message.client_gone` event) turns true when Mongrel2 reports the
disconnect. The send API is `sender.ReplySender`'s, spooled uploads are
`uploads.UploadSpool`'s, and the bytes on the wire are `wire`'s.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from ..concurrency import process
from ..concurrency.deadlines import Deadlines, Expired
from ..concurrency.runners import Runners
from ..errors import HTTPError, loggable
from ..request import Request
from ..response import Response, http_bytes, plain_response, refuse
from ..streaming import ClientDisconnected, StreamingResponse
from . import websocket, wire
from .sender import FINAL, PART, ReplySender, StreamSink
from .uploads import UploadSpool, UploadStore, upload_state
from .websocket import WebSockets

if TYPE_CHECKING:
    from ..app import Brubeck
    from ..concurrency import Backend

log = logging.getLogger("brubeck.mongrel2")

RECEIVE_BATCH = 1000  # messages read before the receiver lets requests run
#: Replies sent in one message at most. Sent only when a busy turn ended, its
#: hundred replies left Mongrel2 (and the dispatcher) idle meanwhile: a quarter
#: of the machine at 100 connections. In chunks, they write while it works.
REPLY_BATCH = 32
#: Seconds the receiver waits in one green recv() before it looks again. eventlet's
#: green zmq can miss the wake-up for a message that arrived (seen once: a worker
#: holding 8 dispatched requests until it was killed); pyzmq's gevent sockets guard
#: the same way with a 1 s poll. An idle worker pays two wake-ups a second.
RECEIVE_WAKE = 0.5
READY, BYE = b"READY", b"BYE"  # to the dispatcher (and BYE back: nothing new will come)
BATCHES = b"BATCHES"  # from the dispatcher: several replies may go in one message
DISPATCHED_LINGER = 5.0  # seconds a closing worker's DEALER may take to flush its replies


class Mongrel2Connection(ReplySender):
    """Serve an app behind Mongrel2: `Mongrel2Connection(pull_addr, pub_addr)`.

    `pull_addr` is the handler's `send_spec`, `pub_addr` its `recv_spec`
    (Mongrel2 binds both; workers connect). `upload_store` is Mongrel2's
    `upload.temp_store` and `chroot` its server chroot; without them, uploads
    spooled to disk are refused with 400.

    Behind a dispatcher (`dispatcher.Dispatcher`; `dispatcher_addr` set, the
    two Mongrel2 addresses unused) the worker is one DEALER with routing id
    `worker_id` (default `BRUBECK_WORKER_ID`): it says READY once serving,
    sends each reply as final or not, and BYE when it drains.
    """

    def __init__(self, pull_addr: str, pub_addr: str, *, upload_store: str | None = None,
                 chroot: str | None = None, drain_timeout: float | None = None,
                 handle_signals: bool = True, dispatcher_addr: str | None = None,
                 worker_id: str | None = None) -> None:
        self.pull_addr = pull_addr
        self.pub_addr = pub_addr
        self.dispatcher_addr = dispatcher_addr
        self.worker_id = worker_id
        self.uploads = UploadStore(upload_store, chroot) if upload_store else None
        self._spool = UploadSpool(self.uploads)
        self.drain_timeout = drain_timeout
        self.handle_signals = handle_signals
        self._pub: Any = None
        self._inflight: dict[tuple[str, str], set[Request]] = {}
        # Messages handed to a green thread that has not yet put its request in
        # `_inflight`, by connection: True once a disconnect notice came meanwhile.
        self._arriving: dict[tuple[str, str], dict[int, bool]] = {}
        self._stopping: Any = None
        self._shutdown: process.Shutdown | None = None
        self._idle: Any = None
        self._running = 0
        self._outbox: list[tuple[bytes, bool]] = []
        self._batching = False  # True while run() owns the sockets
        self._batches = False  # the dispatcher takes several replies in one message
        self._websockets = WebSockets(self)
        self._deadlines: Deadlines | None = None  # request_timeout, for every request at once
        self._runners: Runners[wire.Message] | None = None  # green threads kept between requests

    def __repr__(self) -> str:
        if self.dispatcher_addr:
            return f"Mongrel2Connection(dispatcher_addr={self.dispatcher_addr!r})"
        return f"Mongrel2Connection({self.pull_addr!r}, {self.pub_addr!r})"

    @classmethod
    def from_url_parts(cls, pull_addr: str, pub_addr: str, query: str = "") -> Mongrel2Connection:
        """Build from `mongrel2://PULL,PUB?upload_store=...&chroot=...` pieces."""
        options = {k: v[-1] for k, v in parse_qs(query).items()}
        unknown = set(options) - {"upload_store", "chroot", "drain_timeout"}
        if unknown:
            raise ValueError(f"unknown mongrel2 connection options {sorted(unknown)}")
        drain = options.get("drain_timeout")
        return cls(pull_addr, pub_addr, upload_store=options.get("upload_store"),
                   chroot=options.get("chroot"),
                   drain_timeout=None if drain is None else float(drain))

    @classmethod
    def from_dispatcher_url_parts(cls, worker_addr: str, query: str = "") -> Mongrel2Connection:
        """Build from `mongrel2+dispatcher://WORKER_ADDR?upload_store=...&chroot=...`."""
        connection = cls.from_url_parts("", "", query)
        connection.dispatcher_addr = worker_addr
        return connection

    # -- serving -------------------------------------------------------------------

    def run(self, application: Brubeck) -> None:
        """Serve until SIGINT, SIGTERM or `shutdown()`, then drain and return.

        The drain is the WSGI servers' (`concurrency.process`): the app says
        `draining` (its readiness route answers 503), the same two log lines,
        in-flight requests get `drain_timeout` (default: the app's
        `shutdown_timeout`), what still runs is answered 503.
        """
        backend = application.backend
        zmq = backend.zmq
        context = zmq.Context()
        if self.dispatcher_addr:  # one DEALER both ways; LINGER lets the last replies out
            pull = pub = context.socket(zmq.DEALER)
            pub.setsockopt(zmq.IDENTITY, self._worker_ident())
            pub.setsockopt(zmq.SNDHWM, 0)  # a send never blocks between a message's parts
            pub.setsockopt(zmq.LINGER, int(DISPATCHED_LINGER * 1000))
        else:
            pull = context.socket(zmq.PULL)
            pull.setsockopt(zmq.LINGER, 0)
            pub = context.socket(zmq.XPUB)  # a PUB that also sees Mongrel2 subscribe
            pub.setsockopt(zmq.LINGER, 2000)  # let the last replies out on close
        pull.setsockopt(zmq.RCVTIMEO, int(RECEIVE_WAKE * 1000))
        self._dispatched = bool(self.dispatcher_addr)
        self._batches = False  # until this dispatcher says it takes them
        self._pub = pub
        self._batching = True
        self._stopping = backend.Event()
        self._idle = backend.Event()
        self._idle.set()
        self._receiver_done = backend.Event()
        self._waiting = False
        self._app = application
        if application.pool is None:  # an app's own pool bounds its requests: it spawns them
            self._runners = Runners(backend, self._serve)
        timeout = self.drain_timeout if self.drain_timeout is not None else \
            getattr(application, "shutdown_timeout", process.DEFAULT_SHUTDOWN_TIMEOUT)

        def draining() -> None:
            application.draining = True

        try:
            with self._signals(timeout, draining) as shutdown:
                self._shutdown = shutdown
                self._serve_until_stopped(shutdown, pull, pub, zmq, backend)
        finally:
            self._shutdown = None
            if self._runners is not None:
                self._runners.close()
                self._runners = None
            self._flush()
            self._batching = False
            pull.close()
            pub.close()
            self._pub = None
            context.term()

    def _signals(self, timeout: float, on_stop: Callable[[], None]
                 ) -> AbstractContextManager[process.Shutdown]:
        """SIGINT and SIGTERM request the drain, unless `handle_signals` is off."""
        if self.handle_signals:
            return process.shutdown_signals(timeout, on_stop)
        return contextlib.nullcontext(process.Shutdown(timeout, on_stop))

    def _serve_until_stopped(self, shutdown: process.Shutdown, pull: Any, pub: Any, zmq: Any,
                             backend: Backend) -> None:
        if self._dispatched:
            pub.connect(self.dispatcher_addr)
            pub.send(READY)
            log.info("worker %d (%s) served by the dispatcher at %s", os.getpid(),
                     self._worker_ident().decode(), self.dispatcher_addr)
        else:
            pub.connect(self.pub_addr)
            self._await_subscriber(pub, zmq, backend, shutdown)
            pull.connect(self.pull_addr)
            log.info("worker %d pulling %s, publishing %s", os.getpid(), self.pull_addr,
                     self.pub_addr)
        process.serving()  # start-up objects frozen; the supervisor counts this worker up
        receiver = backend.spawn(self._receive, pull, zmq)
        # The signal handler only records the request (under eventlet it runs inside the
        # hub's poll, where a wake-up would wait); this polls for it every 0.1 s.
        shutdown.wait(backend.sleep)
        self._stopping.set()
        in_flight = self._running
        process.going_down(shutdown, in_flight)
        self._websockets.close_all()  # 1001: their clients reconnect elsewhere
        if self._waiting:  # idle in recv(): nothing is lost by killing it
            receiver.kill()
        else:  # it holds a message (a full pool?): let it finish with it
            self._receiver_done.wait()
        if self._dispatched:
            idle, taken = self._drain_dispatched(pull, zmq, backend, shutdown)
        else:
            taken = self._drain(pull, zmq)
            idle = self._idle.wait(shutdown.remaining())
        refused = 0 if idle else self._abandon()
        process.drained(shutdown, in_flight + taken - self._running, refused)

    def _worker_ident(self) -> bytes:
        """The routing id the dispatcher knows this worker by (its supervisor's slot.generation)."""
        ident = self.worker_id or os.environ.get("BRUBECK_WORKER_ID") or f"pid-{os.getpid()}"
        return ident.encode("ascii")

    def _drain_dispatched(self, dealer: Any, zmq: Any, backend: Backend,
                          shutdown: process.Shutdown) -> tuple[bool, int]:
        """Say BYE, then serve what still comes (requests sent before the dispatcher read
        the BYE, frames for held connections) until it acknowledges and nothing runs.
        `(whether that happened within the drain, requests taken meanwhile)`."""
        dealer.send(BYE)
        acknowledged = False
        taken = 0
        while shutdown.remaining() > 0:
            try:
                frame = dealer.recv(zmq.NOBLOCK)
            except zmq.Again:
                if acknowledged and self._idle.is_set():
                    return True, taken
                backend.sleep(0.005)
                continue
            if frame == BYE:
                acknowledged = True
            else:
                taken += self._dispatch_counted(frame)
        if not acknowledged:
            log.warning("worker %d: the dispatcher did not acknowledge its BYE", os.getpid())
        return bool(self._idle.is_set()), taken

    def _dispatch_counted(self, frame: bytes) -> int:
        """`_dispatch`, and 1 if the frame started a request (for the drain's count)."""
        before = self._running
        self._dispatch(frame)
        return self._running - before

    def _await_subscriber(self, pub: Any, zmq: Any, backend: Backend,
                          shutdown: process.Shutdown) -> None:
        """PUB slow joiner: replies sent before Mongrel2's SUB has subscribed are
        dropped, so take no request until its subscription has arrived."""
        waited = 0.0
        while not shutdown.requested:
            try:
                pub.recv(zmq.NOBLOCK)
                return
            except zmq.Again:
                backend.sleep(0.01)
                waited += 0.01
                if waited >= 5.0:
                    log.warning("still waiting for Mongrel2 to subscribe at %s", self.pub_addr)
                    waited = 0.0

    def shutdown(self) -> None:
        """Stop taking work, as SIGTERM does; `run()` then drains and returns."""
        if self._shutdown is not None:
            self._shutdown.request()

    def _receive(self, pull: Any, zmq: Any) -> None:
        """Read every waiting message before yielding, then block for more.

        Waiting messages are read by plain pyzmq with NOBLOCK: the green
        `recv()` would ask the socket's state after each one. Only an empty
        queue takes the green `recv()`, which parks this greenlet until more
        arrive. Dispatching only queues, so the queue is emptied before any
        request runs (up to `RECEIVE_BATCH` at a time, then others get a turn).
        """
        recv, again, noblock = _plain().recv, zmq.Again, zmq.NOBLOCK
        dispatch, pause = self._dispatch, self._app.backend.sleep
        try:
            while not self._stopping.is_set():
                try:
                    for _ in range(RECEIVE_BATCH):
                        dispatch(recv(pull, noblock))
                    pause(0)
                    continue
                except again:
                    pass
                self._waiting = True
                try:
                    frame = pull.recv()
                except again:  # RECEIVE_WAKE passed with nothing seen: look again
                    continue
                finally:
                    self._waiting = False
                dispatch(frame)
        finally:
            self._receiver_done.set()

    def _drain(self, pull: Any, zmq: Any) -> int:
        """Dispatch what is already queued in the PULL socket, without waiting; return how
        many requests that started."""
        taken = 0
        while True:
            try:
                frame = pull.recv(zmq.NOBLOCK)
            except zmq.Again:
                return taken
            taken += self._dispatch_counted(frame)

    def _dispatch(self, frame: bytes) -> None:
        """Parse one frame; never raises, so a bad message cannot stop the worker."""
        if self._websockets.open and self._websockets.feed_raw(frame):
            return  # a WebSocket frame, fed on without parsing its headers
        try:
            message = wire.parse_message(frame)
        except wire.MalformedMessage as error:
            log.warning("malformed Mongrel2 message from %s: %s", error.conn_id, _Safe(error))
            self.send(error.sender, error.conn_id, http_bytes(plain_response(400), "GET"))
            return
        except Exception as error:
            if frame == BATCHES and self._dispatched:  # no Mongrel2 message has no space
                self._batches = True
                return
            log.warning("dropped an unreadable Mongrel2 message: %s", _Safe(error))
            return
        if message.is_disconnect:
            self._client_left(message.sender, message.conn_id)
            return
        if message.method == "JSON":
            log.debug("ignored a Mongrel2 JSON message on %s", message.conn_id)
            return
        if message.method == websocket.FRAME:
            self._websockets.feed(message)
            return
        if message.method == websocket.HANDSHAKE:
            self._websockets.expect(message)
        self._running += 1
        self._idle.clear()
        self._arriving.setdefault((message.sender, message.conn_id), {})[id(message)] = False
        try:
            if self._runners is not None:
                self._runners.submit(message)
            else:
                pool = self._app.pool
                (pool.spawn if pool is not None else self._app.backend.spawn)(self._serve, message)
        except Exception:
            self._running -= 1
            self._arrived(message)
            log.exception("could not start a request")

    def _client_left(self, sender: str, conn_id: str) -> None:
        self._websockets.lost(sender, conn_id)
        for request in self._inflight.get((sender, conn_id), ()):
            wire.client_of(request).leave()
        # Requests read before the notice whose green thread has not run yet (a busy
        # worker reads both from its socket at once): they learn it when they start.
        arriving = self._arriving.get((sender, conn_id))
        if arriving:
            arriving.update(dict.fromkeys(arriving, True))

    def _arrived(self, message: wire.Message) -> bool:
        """Forget `message` as arriving; whether its client left meanwhile."""
        key = (message.sender, message.conn_id)
        arriving = self._arriving.get(key)
        if arriving is None:
            return False
        left = arriving.pop(id(message), False)
        if not arriving:
            del self._arriving[key]
        return left

    # -- one request ---------------------------------------------------------------

    def _serve(self, message: wire.Message) -> None:
        method = message.method
        try:
            if method == websocket.HANDSHAKE:
                self._websockets.handshake(message)
                return
            request = self._request(message)
            if request is None:
                return  # an upload has started; its `done` message comes later
            self._answer(request, self._arrived(message))
        except HTTPError as err:  # refused by HTTP's rules: logged and closed as over WSGI
            client = loggable(message.meta.get("REMOTE_ADDR", "-"))
            response = refuse(err, f"{method} {message.path}", client, log)
            self.send(message.sender, message.conn_id, http_bytes(response, method), final=False)
            self.send(message.sender, message.conn_id, b"")
        except Exception:
            log.exception("%s %s failed in the Mongrel2 connection", _Safe(method),
                          _Safe(message.path))
            self.send(message.sender, message.conn_id, http_bytes(plain_response(500), method))
        finally:
            self._arrived(message)  # one that did not get as far as `_answer`
            self._running -= 1
            if self._running == 0:
                self._idle.set()

    def _request(self, message: wire.Message) -> Request | None:
        """The request of a message; None for an upload still arriving or refused already."""
        limits = self._app.limits
        if upload_state(message) is None:
            return wire.to_request(message, limits)
        body = self._spool.body(message, limits)
        return None if body is None else wire.to_request(message, limits, body)

    def _answer(self, request: Request, left: bool = False) -> None:
        """Run the handler and send its reply; `left`: the client is known to be gone."""
        client = wire.client_of(request)
        client.new_event = self._app.backend.Event
        if left:
            client.leave()
        key = (client.sender, client.conn_id)
        self._inflight.setdefault(key, set()).add(request)
        try:
            response = self._handle_in_time(request)
            if isinstance(response, StreamingResponse):  # while in flight: gone stays wired
                self._stream(request, response)
                return
        finally:
            waiting = self._inflight.get(key)
            if waiting is not None:
                waiting.discard(request)
                if not waiting:
                    del self._inflight[key]
        if client.is_disconnected():
            log.debug("%s %s: client left before the reply", _Safe(request.method),
                      _Safe(request.path))
            return
        if client.answered:  # already answered in bulk with others (reply_many)
            return
        self.reply(request, response)

    def _handle_in_time(self, request: Request) -> Response:
        deadlines = self._deadlines
        if deadlines is None or deadlines.seconds != self._app.request_timeout:
            deadlines = self._deadlines = Deadlines(self._app.backend, self._app.request_timeout)
        limit = deadlines.start()
        try:
            wire.client_of(request).open_stream = functools.partial(
                self._open_stream, request, limit)
            return self._app.handle(request)
        except Expired as expired:
            if expired.key is not limit:
                raise
            log.error("%s %s ran over %ss: answered 504", _Safe(request.method),
                      _Safe(request.path), deadlines.seconds)
            return plain_response(504)
        finally:
            deadlines.cancel(limit)

    # -- streams (brubeck.streaming) --------------------------------------------------

    def _open_stream(self, request: Request, limit: object, response: StreamingResponse
                     ) -> StreamSink:
        """A handler's first flush: the head goes out, and `request_timeout` no longer
        applies (a stream lasts as long as its client and handler want)."""
        if self._deadlines is not None:
            self._deadlines.cancel(limit)
        sink = StreamSink(self, request, response)
        response.sink = sink
        return sink

    def _stream(self, request: Request, response: StreamingResponse) -> None:
        """Send a streamed response: the head (unless a flush sent it), each chunk as it
        comes, then the end; a client that left stops it (its source is closed)."""
        sink = response.sink
        if sink is None:
            try:
                if wire.client_of(request).is_disconnected():
                    return
                sink = StreamSink(self, request, response)
            except ValueError as error:  # a header the head cannot carry: nothing was sent
                log.error("refused to send %r: %s", response, error)
                self.reply(request, plain_response(500))
                return
            finally:
                if sink is None:
                    response.close()
        assert isinstance(sink, StreamSink)
        try:
            for data in response.chunks():
                sink.send(data)
            if response.aborted:
                sink.abort()
            else:
                sink.end()
        except ClientDisconnected:
            log.debug("%s %s: the client left the stream", _Safe(request.method),
                      _Safe(request.path))
        except Exception:
            log.exception("%s %s: the stream failed", _Safe(request.method), _Safe(request.path))
            sink.abort()
        finally:
            response.close()

    # -- replies leave in batches ---------------------------------------------------

    def _publish(self, frame: bytes, final: bool = True) -> None:
        """Queue a reply: those made in one turn of the event loop leave together,
        `REPLY_BATCH` at a time.

        One ZeroMQ send per reply woke the I/O thread per reply and was most
        of the worker's time; `_flush` sends the queued replies in one go.
        """
        if not self._batching:  # not in run(): a socket given by hand, or none
            super()._publish(frame, final)
            return
        outbox = self._outbox
        if not outbox:
            self._app.backend.spawn(self._flush)
        outbox.append((frame, final))
        if len(outbox) >= REPLY_BATCH:
            self._flush()  # the rest of the turn's replies go in the next chunk

    def _flush(self) -> None:
        """Send the queued replies, in order.

        Direct to Mongrel2: one multipart message per sender UUID, whose parts
        Mongrel2 reads as separate replies (a SUB filters on the first part, so
        parts never mix senders), sent by plain pyzmq: a PUB never blocks (it
        drops past its HWM) and nothing waits on its events. To a dispatcher:
        one message of F/S and reply pairs (each pair its own message for a
        dispatcher that did not say BATCHES), see `send_waking`.
        """
        out, self._outbox = self._outbox, []
        pub = self._pub
        if not out or pub is None:
            return
        if self._dispatched:
            if self._batches:
                parts: list[bytes] = []
                for frame, final in out:
                    parts += (FINAL if final else PART, frame)
                send_waking(pub, parts)
            else:
                for frame, final in out:
                    send_waking(pub, [FINAL if final else PART, frame])
            return
        send, more = _plain().send, self._app.backend.zmq.SNDMORE
        groups: dict[bytes, list[bytes]] = {}
        for frame, _ in out:
            groups.setdefault(frame[:frame.find(b" ")], []).append(frame)
        for frames in groups.values():
            for frame in frames[:-1]:
                send(pub, frame, more)
            send(pub, frames[-1])

    def _abandon(self) -> int:
        """Drain over: answer every request still running 503, rather than hang its
        client (`Retry-After: 1`, as over WSGI); return how many."""
        busy = [r for requests in self._inflight.values() for r in requests]
        for request in busy:
            if vars(wire.client_of(request)).get("streaming"):
                self.close(request)  # its head is out: cut the stream, no 503 inside it
            else:
                self.reply(request, plain_response(503, headers={"Retry-After": "1",
                                                                 "Connection": "close"}))
        return len(busy)


def send_waking(dealer: Any, parts: list[bytes]) -> None:
    """Send one message on a green socket by plain pyzmq, then wake its receiver.

    eventlet's green send took a lock and woke the receiver once per part, a
    fifth of a worker's time behind a dispatcher. But a plain send also reads
    the socket's pending events, taking the readable edge a green receiver
    waits on: asking the green socket for its EVENTS wakes that receiver if a
    message waits. Only the first part may find no room (a multipart message
    is queued whole or not at all): then the green send waits for it.
    """
    zmq = _pyzmq()
    noblock, noblock_more, more = _send_flags()
    send, last = _plain().send, len(parts) - 1
    try:
        send(dealer, parts[0], noblock_more if last else noblock)
    except zmq.Again:
        dealer.send_multipart(parts)
        return
    for index in range(1, last):
        send(dealer, parts[index], more)
    if last:
        send(dealer, parts[last])
    # gevent's green socket wakes its receiver in `get`, eventlet's in `getsockopt`
    # (pyzmq's own `getsockopt` is the base class's `get`, which wakes nobody).
    if type(dealer).get is not _plain().get:
        dealer.get(zmq.EVENTS)
    else:
        dealer.getsockopt(zmq.EVENTS)


@functools.cache
def _pyzmq() -> Any:
    """pyzmq itself (imported here: only Mongrel2 needs it)."""
    import zmq

    return zmq


@functools.cache
def _send_flags() -> tuple[int, int, int]:
    """NOBLOCK, NOBLOCK | SNDMORE and SNDMORE as plain ints: pyzmq's flag enums cost an
    object per `|`."""
    zmq = _pyzmq()
    return int(zmq.NOBLOCK), int(zmq.NOBLOCK | zmq.SNDMORE), int(zmq.SNDMORE)


@functools.cache
def _plain() -> Any:
    """pyzmq's own socket class under both backends' green ones: its methods, called on a
    green socket, skip the green wrapper."""
    return _pyzmq().backend.Socket


class _Safe:
    """Client text for a log argument, control characters escaped only if the line is
    written (no formatting cost for a disabled level)."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __str__(self) -> str:
        return loggable(self.value)
