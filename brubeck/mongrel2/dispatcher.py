"""One dispatcher per host between Mongrel2 and its workers: it knows what each worker holds.

Mongrel2 PUSHes every message round-robin to whatever PULLs. With workers
PULLing directly, a killed worker's queued requests are lost (nobody knows
them), a connection's WebSocket frames and disconnect notice reach the wrong
worker, and a draining worker keeps getting work until its socket closes.

The dispatcher PULLs from Mongrel2 and PUBlishes replies to it, and talks to
its workers over one ROUTER (each worker a DEALER whose routing id is its
`BRUBECK_WORKER_ID`):

- dispatcher -> worker: `[frame, ...]`, Mongrel2 messages byte for byte (those
  routed to the worker in one turn);
  `[b"BATCHES"]` answering READY (replies may come several to a message) and
  `[b"BYE"]` acknowledging a worker's BYE (nothing new will follow).
- worker -> dispatcher: `[b"READY"]`; `[b"F", reply]` (a final reply: publish,
  release one held request per listed connection; an empty body releases the
  connection) and `[b"S", reply]` (publish, keep holding), or once BATCHES is
  heard several such pairs in one message, `[b"F", reply, b"S", reply, ...]`, in
  order; and `[b"BYE"]` (draining: no new requests; messages for connections it
  holds still go to it). A worker never batches for a dispatcher that did not say
  BATCHES (one of an older release, during a rolling upgrade).

A connection (sender and connection id) is held by the worker its request
went to until that worker's final reply or the forwarded disconnect notice;
everything for it goes to the holder, in order. A new request goes to the
ready, non-retired worker holding the fewest (ties round robin); with none
ready it waits in a bounded queue. When a worker dies, `lost()` answers what
it held: 503 with `Retry-After: 1` for a request (never replayed: it may have
had effects), a close for a stream already under way.

It runs in a thread of the supervisor, plain pyzmq (no green library, no app);
`retire`, `lost`, `stats` and `stop` may be called from any thread.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import zmq

from ..response import http_bytes, plain_response
from . import wire

log = logging.getLogger("brubeck.mongrel2.dispatcher")

READY, FINAL, SEND, BYE, BATCHES = b"READY", b"F", b"S", b"BYE", b"BATCHES"

# What a message from Mongrel2 is, as far as routing cares.
REQUEST = 0     # wants a final reply: held until it gets one
FRAME = 1       # a WebSocket frame or other JSON message: to the holder, or dropped
DISCONNECT = 2  # the client left: to the holder (which then holds it no more), or dropped
MORE = 3        # an upload's `done` message: the rest of a request already held
HEAD = 4        # a REQUEST whose answer has no body (the 503 for it too)
_REQUESTS = (REQUEST, HEAD)

_DISCONNECT_BODY = b'21:{"type":"disconnect"},'
_UPLOAD_DONE = b"x-mongrel2-upload-done"
_METHOD_KEY = b"6:METHOD,"
_JSON_METHOD = b'"METHOD":"'
_KINDS = {b"WEBSOCKET": FRAME, b"JSON": FRAME, b"HEAD": HEAD}

#: Messages read from one socket before the others get a turn.
BATCH = 256
# Plain ints: pyzmq's flag enums cost an object per `|` on the per-message path.
_NOBLOCK = int(zmq.NOBLOCK)
_NOBLOCK_MORE = int(zmq.NOBLOCK | zmq.SNDMORE)
_MORE = int(zmq.SNDMORE)
_RCVMORE = int(zmq.RCVMORE)
# pyzmq's own socket methods, under its Python layer (flag enums, routing-id and group
# checks, `recv_multipart` asking RCVMORE through `getsockopt`): on this path that layer
# cost more than the ZeroMQ calls it wraps.
_recv, _send, _more = zmq.backend.Socket.recv, zmq.backend.Socket.send, zmq.backend.Socket.get
_UNAVAILABLE = plain_response(503, headers={"Retry-After": "1", "Connection": "close"})
UNAVAILABLE = http_bytes(_UNAVAILABLE, "GET")
UNAVAILABLE_HEAD = http_bytes(_UNAVAILABLE, "HEAD")  # the same head, no body


def peek(frame: bytes) -> tuple[bytes, int]:
    """`(b"SENDER CONN_ID", kind)` of a Mongrel2 message; ValueError without an envelope.

    Only the envelope and the METHOD key are read (METHOD comes second in
    Mongrel2's tnetstring headers); headers that cannot be walked make the
    message a REQUEST, and its worker answers 400 as on the direct path.
    """
    first = frame.find(b" ")
    second = frame.find(b" ", first + 1)
    third = frame.find(b" ", second + 1)
    if first < 1 or second <= first + 1 or third <= second + 1 \
            or not frame[first + 1:second].isdigit():
        raise ValueError("not a Mongrel2 message envelope")
    key = frame[:second]
    try:
        method, end = _method(frame, third + 1)
    except (ValueError, IndexError):
        return key, REQUEST
    kind = _KINDS.get(method, REQUEST)
    if kind == FRAME:
        if method == b"JSON" and frame.endswith(_DISCONNECT_BODY):
            return key, DISCONNECT
        return key, FRAME
    if frame.find(_UPLOAD_DONE, third, end) >= 0:
        return key, MORE
    return key, kind


def _size(frame: bytes, start: int) -> tuple[int, int]:
    """`(colon, n)` of the `n:` a netstring or tnetstring element starts with at `start`."""
    colon = frame.index(b":", start, start + 12)
    size = int(frame[start:colon])
    if size < 0:
        raise ValueError("negative length")
    return colon, size


def _method(frame: bytes, start: int) -> tuple[bytes, int]:
    """`(METHOD, end of headers)` from a `LEN:HEADERS` tnetstring dict or JSON netstring."""
    colon, size = _size(frame, start)
    end = colon + 1 + size
    if frame[end] == 0x2C:  # ",": the JSON protocol; Mongrel2 escapes quotes in values
        at = frame.index(_JSON_METHOD, colon, end) + len(_JSON_METHOD)
        return frame[at:frame.index(b'"', at, end)], end
    if frame[end] != 0x7D:  # "}"
        raise ValueError("headers are not a dict")
    at = colon + 1
    while at < end:  # key, value, key, value ...: each `LEN:DATA` and a type byte
        is_method = frame.startswith(_METHOD_KEY, at)
        colon, size = _size(frame, at)
        at = colon + 2 + size  # past the key
        colon, size = _size(frame, at)
        if is_method:
            return frame[colon + 1:colon + 1 + size], end
        at = colon + 2 + size
    raise ValueError("no METHOD")


def reply_targets(reply: bytes) -> tuple[bytes, list[bytes], bool]:
    """`(sender, conn ids, closes)` of a reply frame `SENDER LEN:ID ID, BODY`; ValueError."""
    space = reply.find(b" ")
    if space < 1:
        raise ValueError("not a Mongrel2 reply")
    colon, size = _size(reply, space + 1)
    ids_end = colon + 1 + size
    if reply[ids_end:ids_end + 1] != b"," or size == 0:
        raise ValueError("not a Mongrel2 reply")
    ids = reply[colon + 1:ids_end].split(b" ")
    return reply[:space], ids, len(reply) <= ids_end + 2


class _Worker:
    __slots__ = ("held", "ident", "ready", "retired", "sent")

    def __init__(self, ident: bytes) -> None:
        self.ident = ident
        self.ready = False
        self.retired = False
        self.held = 0  # requests sent and not yet answered
        self.sent = 0  # requests sent, ever


#: What one turn routes to a worker: (key, frame, kind) in order, and the keys it was
#: first given in that turn.
_Outgoing = tuple[list[tuple[bytes, bytes, int]], set[bytes]]


class _Hold:
    """One held connection: its worker, requests awaiting a final reply, stream started.

    `heads` has bit i set when the i-th request awaiting a reply is a HEAD (its
    503 has no body); a final reply shifts it.
    """

    __slots__ = ("count", "heads", "streaming", "worker")

    def __init__(self, worker: _Worker, head: bool) -> None:
        self.worker = worker
        self.count = 1
        self.heads = int(head)
        self.streaming = False


class Dispatcher:
    """Route Mongrel2's messages to local workers: `Dispatcher(pull, pub, worker_addr)`.

    `pull_addr`/`pub_addr` are the handler's send_spec/recv_spec (Mongrel2
    binds them), `worker_addr` is where workers connect (an `ipc://` path in a
    0700 directory, or tcp). At most `queue_limit` requests wait for a ready
    worker, none longer than `queue_timeout` seconds; the rest get 503.
    """

    def __init__(self, pull_addr: str, pub_addr: str, worker_addr: str, *,
                 queue_limit: int = 10000, queue_timeout: float = 10.0) -> None:
        self.pull_addr = pull_addr
        self.pub_addr = pub_addr
        self.worker_addr = worker_addr
        self.queue_limit = queue_limit
        self.queue_timeout = queue_timeout
        self._workers: dict[bytes, _Worker] = {}
        self._serving: list[_Worker] = []  # ready and not retired
        self._turn = 0
        self._held: dict[bytes, _Hold] = {}
        self._queue: collections.deque[tuple[float, bytes, bytes, int]] = collections.deque()
        self._ready: set[bytes] = set()
        self._ready_changed = threading.Condition()
        self._calls: collections.deque[tuple[Callable[..., Any], tuple[Any, ...], Future[Any]]] \
            = collections.deque()
        self._call_lock = threading.Lock()
        self._context: Any = None
        self._thread: threading.Thread | None = None
        self._stop_at: float | None = None
        self._pulling = False
        self._poller: Any = None
        self._outgoing: dict[_Worker, _Outgoing] | None = None  # while routing a turn
        self.counts = {"routed": 0, "waited": 0, "refused": 0, "lost": 0, "malformed": 0}

    def __repr__(self) -> str:
        return f"Dispatcher({self.pull_addr!r}, {self.pub_addr!r}, {self.worker_addr!r})"

    # -- control (any thread) ----------------------------------------------------------

    def start(self) -> None:
        """Bind the workers' socket, connect to Mongrel2 and route in a daemon thread."""
        context = self._context = zmq.Context()
        self._router = context.socket(zmq.ROUTER)
        self._router.setsockopt(zmq.ROUTER_MANDATORY, 1)  # a gone worker raises, not drops
        self._router.setsockopt(zmq.ROUTER_HANDOVER, 1)   # a restarted worker takes its id
        self._router.setsockopt(zmq.SNDHWM, 0)
        self._router.setsockopt(zmq.RCVHWM, 0)
        self._router.setsockopt(zmq.LINGER, 0)
        self._router.bind(self.worker_addr)
        self._pub = context.socket(zmq.XPUB)  # a PUB that sees Mongrel2 subscribe
        self._pub.setsockopt(zmq.SNDHWM, 0)   # a PUB past its HWM drops replies silently
        self._pub.setsockopt(zmq.LINGER, 2000)
        self._pub.connect(self.pub_addr)
        self._pull = context.socket(zmq.PULL)  # connected once Mongrel2 has subscribed
        self._pull.setsockopt(zmq.LINGER, 0)
        address = f"inproc://brubeck-dispatcher-{id(self)}"
        self._wake_in = context.socket(zmq.PAIR)
        self._wake_in.bind(address)
        self._wake = context.socket(zmq.PAIR)
        self._wake.connect(address)
        self._thread = threading.Thread(target=self._run, name="brubeck-dispatcher", daemon=True)
        self._thread.start()
        log.info("dispatcher: workers at %s, pulling %s, publishing %s", self.worker_addr,
                 self.pull_addr, self.pub_addr)

    def stop(self, timeout: float = 10.0) -> None:
        """Refuse new requests (503), wait up to `timeout` for held ones, answer the rest."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            return
        self._call(self._begin_stop, timeout, wait=False)
        thread.join(timeout + 5)

    def wait_ready(self, worker_id: bytes | str, timeout: float) -> bool:
        """True once the worker has said READY (False after `timeout` seconds)."""
        ident = _ident(worker_id)
        with self._ready_changed:
            return self._ready_changed.wait_for(lambda: ident in self._ready, timeout)

    def retire(self, worker_id: bytes | str) -> None:
        """Send the worker no new requests (it keeps what it holds)."""
        self._call(self._retire, _ident(worker_id))

    def lost(self, worker_id: bytes | str) -> int:
        """The worker died: answer all it held (503, or close a stream); return how many."""
        return int(self._call(self._lose, _ident(worker_id)))

    def stats(self) -> dict[str, Any]:
        """Per worker: ready, retired, held, sent; and totals."""
        return dict(self._call(self._stats))

    def _call(self, function: Callable[..., Any], *args: Any, wait: bool = True,
              timeout: float = 10.0) -> Any:
        """Run `function(*args)` in the dispatcher's thread (its sockets are its own)."""
        if self._thread is None or not self._thread.is_alive():
            raise RuntimeError("the dispatcher is not running")
        future: Future[Any] = Future()
        with self._call_lock:
            if self._wake.closed:
                raise RuntimeError("the dispatcher is not running")
            self._calls.append((function, args, future))
            self._wake.send(b"", zmq.NOBLOCK)
        return future.result(timeout) if wait else None

    # -- the loop (dispatcher thread) ------------------------------------------------------

    def _run(self) -> None:
        self._poller = poller = zmq.Poller()
        readers = {self._router: self._from_workers, self._pub: self._subscribed,
                   self._wake_in: self._control, self._pull: self._from_mongrel2}
        for sock in (self._router, self._pub, self._wake_in):
            poller.register(sock, zmq.POLLIN)
        try:
            while True:
                timeout = 100 if self._queue or self._stop_at is not None else None
                for sock, _ in poller.poll(timeout):
                    readers[sock]()
                if self._queue:
                    self._expire()
                if self._stop_at is not None and (
                        not self._held or time.monotonic() >= self._stop_at):
                    break
        except Exception:  # a bug here must not leave clients hanging silently
            log.exception("dispatcher failed")
        finally:
            self._finish()

    def _subscribed(self) -> None:
        """Mongrel2's SUB subscribed (XPUB sees it): replies will arrive, so start pulling."""
        for _ in range(BATCH):
            try:
                self._pub.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
        if not self._pulling:
            self._pull.connect(self.pull_addr)
            self._poller.register(self._pull, zmq.POLLIN)
            self._pulling = True
            log.info("dispatcher: Mongrel2 subscribed; pulling %s", self.pull_addr)

    def _from_mongrel2(self) -> None:
        """Route up to `BATCH` messages; what each worker is given leaves at the end, as
        one message (one send per request woke ZeroMQ's I/O thread per request)."""
        pull, route = self._pull, self._route
        self._outgoing = {}
        try:
            for _ in range(BATCH):
                try:
                    frame = _recv(pull, _NOBLOCK)
                except zmq.Again:
                    return
                try:
                    key, kind = peek(frame)
                except ValueError:
                    self.counts["malformed"] += 1
                    log.warning("dispatcher: dropped a malformed Mongrel2 message (%d bytes)",
                                len(frame))
                    continue
                route(frame, key, kind)
        finally:
            outgoing, self._outgoing = self._outgoing, None
            self._hand_over(outgoing)

    def _hand_over(self, outgoing: dict[_Worker, _Outgoing]) -> None:
        for worker, (routed, fresh) in outgoing.items():
            if self._send_now(worker, [frame for _, frame, _ in routed]):
                continue
            # Gone since it was chosen: the connections it was first given in this turn
            # go to another worker, in order; `lost()` answers those it held before.
            for key in fresh:
                hold = self._held.get(key)
                if hold is not None and hold.worker is worker:
                    worker.held -= hold.count
                    del self._held[key]
            self.counts["routed"] -= len(fresh)
            for key, frame, kind in routed:
                if key in fresh:
                    self._route(frame, key, kind)

    def _route(self, frame: bytes, key: bytes, kind: int) -> None:
        hold = self._held.get(key)
        if hold is not None:
            worker = hold.worker
            if not self._send(worker, frame, key, kind, fresh=False):
                return  # gone: `lost()` answers the connection
            if kind in _REQUESTS:
                hold.heads |= (kind == HEAD) << hold.count
                hold.count += 1
                worker.held += 1
                worker.sent += 1
            elif kind == DISCONNECT:
                worker.held -= hold.count
                del self._held[key]
            elif kind == FRAME:
                hold.streaming = True
            return
        if kind in (FRAME, DISCONNECT):
            return  # nobody holds it: nobody waits for it
        if self._stop_at is not None:
            self._refuse(key, kind == HEAD)
            return
        while True:
            chosen = self._pick()
            if chosen is None:
                self._enqueue(frame, key, kind)
                return
            if self._send(chosen, frame, key, kind, fresh=True):
                break
        worker = chosen
        self._held[key] = _Hold(worker, kind == HEAD)
        worker.held += 1
        worker.sent += 1
        self.counts["routed"] += 1

    def _pick(self) -> _Worker | None:
        """The serving worker holding the fewest requests; ties go round robin."""
        serving = self._serving
        count = len(serving)
        if count < 2:
            return serving[0] if count else None
        self._turn = turn = (self._turn + 1) % count
        best = serving[turn]
        for step in range(1, count):
            worker = serving[(turn + step) % count]
            if worker.held < best.held:
                best = worker
        return best

    def _send(self, worker: _Worker, frame: bytes, key: bytes, kind: int, fresh: bool) -> bool:
        """Hand `frame` to `worker` (at the end of the turn, while routing Mongrel2's
        messages); False (and the worker stops serving) if it is gone. `fresh`: the
        connection was not the worker's before."""
        outgoing = self._outgoing
        if outgoing is None:
            return self._send_now(worker, [frame])
        queued = outgoing.get(worker)
        if queued is None:
            queued = outgoing[worker] = ([], set())
        queued[0].append((key, frame, kind))
        if fresh:
            queued[1].add(key)
        return True

    def _send_now(self, worker: _Worker, frames: list[bytes]) -> bool:
        """Send `frames` to `worker` as one message; False if it is gone."""
        try:
            router = self._router
            _send(router, worker.ident, _NOBLOCK_MORE)  # a gone worker raises here
            last = len(frames) - 1
            for index, frame in enumerate(frames):
                _send(router, frame, _NOBLOCK_MORE if index < last else _NOBLOCK)
            return True
        except zmq.ZMQError:
            if worker.ready:
                log.warning("dispatcher: worker %s is unreachable; no more requests to it",
                            _name(worker.ident))
                self._unserve(worker)
            return False

    def _enqueue(self, frame: bytes, key: bytes, kind: int) -> None:
        if len(self._queue) >= self.queue_limit:
            self._refuse(key, kind == HEAD)
            return
        if not self._queue:
            log.warning("dispatcher: no worker ready; queueing requests")
        self._queue.append((time.monotonic(), key, frame, kind))
        self.counts["waited"] += 1

    def _expire(self) -> None:
        """Requests queued past `queue_timeout` get 503."""
        queue, oldest = self._queue, time.monotonic() - self.queue_timeout
        expired = 0
        while queue and queue[0][0] < oldest:
            self._refuse_queued(queue.popleft())
            expired += 1
        if expired:
            log.error("dispatcher: %d requests waited %ss for a worker: answered 503", expired,
                      self.queue_timeout)

    def _flush_queue(self) -> None:
        """Hand queued requests to workers now ready, in arrival order."""
        queue = self._queue
        while queue and self._serving:
            _, key, frame, kind = queue.popleft()
            self._route(frame, key, kind)

    def _refuse(self, key: bytes, head: bool = False) -> None:
        sender, _, conn_id = key.partition(b" ")
        self._publish_to(sender, [conn_id], UNAVAILABLE_HEAD if head else UNAVAILABLE)
        self._publish_to(sender, [conn_id], b"")
        self.counts["refused"] += 1

    def _refuse_queued(self, queued: tuple[float, bytes, bytes, int]) -> None:
        self._refuse(queued[1], queued[3] == HEAD)

    def _publish_to(self, sender: bytes, conn_ids: list[bytes], data: bytes) -> None:
        for start in range(0, len(conn_ids), wire.MAX_TARGETS):
            ids = b" ".join(conn_ids[start:start + wire.MAX_TARGETS])
            self._pub.send(b"%s %d:%s, %s" % (sender, len(ids), ids, data))

    # -- what workers say ------------------------------------------------------------------

    def _from_workers(self) -> None:
        """Read up to `BATCH` messages; the replies among them leave together at the end."""
        router = self._router
        replies: dict[bytes, list[bytes]] = {}
        try:
            for _ in range(BATCH):
                try:
                    parts = [_recv(router, _NOBLOCK)]
                except zmq.Again:
                    return
                while _more(router, _RCVMORE):  # the rest of a message is there already
                    parts.append(_recv(router, _NOBLOCK))
                try:
                    self._heard(parts, replies)
                except (ValueError, IndexError):
                    self.counts["malformed"] += 1
                    log.warning("dispatcher: dropped a malformed message from worker %s "
                                "(%d parts)", _name(parts[0]), len(parts))
        finally:
            self._publish_replies(replies)

    def _publish_replies(self, replies: dict[bytes, list[bytes]]) -> None:
        """One multipart message per sender UUID: Mongrel2 reads each part as a reply (a
        SUB filters on the first part, so parts never mix senders). One send per reply
        woke ZeroMQ's I/O thread per reply."""
        pub = self._pub
        for frames in replies.values():
            last = len(frames) - 1
            for index, frame in enumerate(frames):
                _send(pub, frame, _MORE if index < last else 0)
        replies.clear()

    def _heard(self, parts: list[bytes], replies: dict[bytes, list[bytes]]) -> None:
        ident, verb = parts[0], parts[1]
        if verb in (FINAL, SEND):
            if not len(parts) & 1:
                raise ValueError("a verb without its reply")
            for index in range(1, len(parts), 2):  # a bad pair drops it and those after
                self._heard_reply(ident, parts[index], parts[index + 1], replies)
        elif len(parts) != 2:
            raise ValueError("extra parts")
        elif verb == READY:
            self._publish_replies(replies)  # before any 503 a restarted worker's loss sends
            self._on_ready(ident)
        elif verb == BYE:
            self._on_bye(ident)
        else:
            raise ValueError("unknown verb")

    def _heard_reply(self, ident: bytes, verb: bytes, reply: bytes,
                     replies: dict[bytes, list[bytes]]) -> None:
        if verb not in (FINAL, SEND):
            raise ValueError("unknown verb")
        sender, ids, closes = reply_targets(reply)
        batch = replies.get(sender)
        if batch is None:
            replies[sender] = [reply]
        else:
            batch.append(reply)
        if verb == FINAL:
            self._release(ident, sender, ids, closes)
        elif len(ids) == 1:  # a stream's first send has one target; broadcasts follow it
            hold = self._held.get(sender + b" " + ids[0])
            if hold is not None and hold.worker.ident == ident:
                hold.streaming = True

    def _release(self, ident: bytes, sender: bytes, ids: list[bytes], closes: bool) -> None:
        held = self._held
        for conn_id in ids:
            key = sender + b" " + conn_id
            hold = held.get(key)
            if hold is None or hold.worker.ident != ident:
                continue  # a broadcast to others' connections, or a reply after a disconnect
            if closes or hold.count == 1:
                hold.worker.held -= hold.count
                del held[key]
            else:
                hold.count -= 1
                hold.heads >>= 1
                hold.worker.held -= 1

    def _on_ready(self, ident: bytes) -> None:
        worker = self._workers.get(ident)
        if worker is not None and worker.held:  # it restarted without our hearing of its death
            log.warning("dispatcher: worker %s is READY again: answering what it held",
                        _name(ident))
            self._lose(ident)
            worker = None
        if worker is None:
            worker = self._workers[ident] = _Worker(ident)
        if not worker.ready:
            worker.ready, worker.retired = True, False
            self._serving.append(worker)
        with contextlib.suppress(zmq.ZMQError):  # gone again: `lost()` will tell
            self._router.send_multipart((ident, BATCHES), zmq.NOBLOCK)
        with self._ready_changed:
            self._ready.add(ident)
            self._ready_changed.notify_all()
        log.info("dispatcher: worker %s ready", _name(ident))
        self._flush_queue()

    def _on_bye(self, ident: bytes) -> None:
        worker = self._workers.get(ident)
        if worker is not None:
            self._retire(ident)
            log.info("dispatcher: worker %s draining (%d held)", _name(ident), worker.held)
        with contextlib.suppress(zmq.ZMQError):  # nothing new will follow: it may close
            self._router.send_multipart((ident, BYE), zmq.NOBLOCK)

    # -- control (dispatcher thread) -------------------------------------------------------

    def _control(self) -> None:
        while True:
            try:
                self._wake_in.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
        while self._calls:
            function, args, future = self._calls.popleft()
            try:
                future.set_result(function(*args))
            except Exception as error:
                future.set_exception(error)

    def _unserve(self, worker: _Worker) -> None:
        worker.ready = False
        if worker in self._serving:
            self._serving.remove(worker)

    def _retire(self, ident: bytes) -> None:
        worker = self._workers.get(ident)
        if worker is not None:
            worker.retired = True
            self._unserve(worker)

    def _lose(self, ident: bytes) -> int:
        worker = self._workers.pop(ident, None)
        with self._ready_changed:
            self._ready.discard(ident)
        if worker is None:
            return 0
        self._unserve(worker)
        answered = self._answer_all(lambda hold: hold.worker is worker)
        self.counts["lost"] += answered
        log.log(logging.WARNING if answered else logging.INFO,
                "dispatcher: worker %s lost: answered %d requests it held (503, or a close"
                " for a stream)", _name(ident), answered)
        return answered

    def _answer_all(self, chosen: Callable[[_Hold], bool]) -> int:
        """503 and close every chosen held request (just close a started stream); forget them."""
        refused: dict[bytes, list[bytes]] = {}
        refused_heads: dict[bytes, list[bytes]] = {}
        closed: dict[bytes, list[bytes]] = {}
        for key, hold in list(self._held.items()):
            if not chosen(hold):
                continue
            del self._held[key]
            hold.worker.held -= hold.count
            sender, _, conn_id = key.partition(b" ")
            answers = closed if hold.streaming else refused_heads if hold.heads & 1 else refused
            answers.setdefault(sender, []).append(conn_id)
        for answers, head in ((refused, UNAVAILABLE), (refused_heads, UNAVAILABLE_HEAD)):
            for sender, ids in answers.items():
                self._publish_to(sender, ids, head)
                closed.setdefault(sender, []).extend(ids)
        for sender, ids in closed.items():
            self._publish_to(sender, ids, b"")
        return sum(len(ids) for ids in closed.values())

    def _stats(self) -> dict[str, Any]:
        workers = {_name(w.ident): {"ready": w.ready, "retired": w.retired, "held": w.held,
                                    "sent": w.sent} for w in self._workers.values()}
        return {"workers": workers, "held": sum(h.count for h in self._held.values()),
                "connections": len(self._held), "queued": len(self._queue), **self.counts}

    def _begin_stop(self, timeout: float) -> None:
        self._stop_at = time.monotonic() + timeout
        while self._queue:
            self._refuse_queued(self._queue.popleft())

    def _finish(self) -> None:
        """Answer whatever is still held or queued, then close every socket."""
        try:
            while self._queue:
                self._refuse_queued(self._queue.popleft())
            left = self._answer_all(lambda hold: True)
            if left:
                log.error("dispatcher: stopped with %d requests unanswered: answered 503", left)
        except Exception:
            log.exception("dispatcher: could not answer what was left")
        with self._call_lock:
            for sock in (self._pull, self._router, self._wake_in, self._wake, self._pub):
                sock.close()
            for _, _, future in self._calls:
                future.set_exception(RuntimeError("the dispatcher stopped"))
            self._calls.clear()
        self._context.term()
        log.info("dispatcher stopped")


def _ident(worker_id: bytes | str) -> bytes:
    return worker_id.encode("ascii") if isinstance(worker_id, str) else worker_id


def _name(ident: bytes) -> str:
    return ident.decode("ascii", "replace")
