"""The Mongrel2 dispatcher (brubeck.mongrel2.dispatcher) with a real Mongrel2 and real
worker processes on the active backend: routing, sticky connections, lost workers,
retiring and draining, and what it does with garbage from either side."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from brubeck.mongrel2 import dispatcher as dispatch
from brubeck.mongrel2.connection import REPLY_BATCH
from tests.conftest import BACKEND
from tests.hostile import rawhttp
from tests.support.mongrel2 import mongrel2_server
from tests.support.processes import ROOT, free_port, python_env, running, stop

APP = "tests/mongrel2/dispatch_app.py:app"

# -- what the dispatcher reads of a message (no I/O) ---------------------------------------

TNET_GET = (b"f00d-1 42 / 115:11:REMOTE_ADDR,9:127.0.0.1,6:METHOD,3:GET,7:VERSION,"
            b"8:HTTP/1.1,4:PATH,1:/,4:host,9:localhost,6:x-note,21:6:METHOD,9:WEBSOCKET,,}0:,")


def tnet_message(method, body=b"", extra=b"", path=b"/"):
    headers = b"11:REMOTE_ADDR,9:127.0.0.1,6:METHOD,%d:%s,4:PATH,%d:%s,%s" % (
        len(method), method, len(path), path, extra)
    return b"f00d-1 42 %s %d:%s}%d:%s," % (path, len(headers), headers, len(body), body)


def test_scaleout_2_peek_reads_key_and_kind():
    key = b"f00d-1 42"
    assert dispatch.peek(TNET_GET) == (key, dispatch.REQUEST)  # a header value is no METHOD
    assert dispatch.peek(tnet_message(b"WEBSOCKET", b"hi")) == (key, dispatch.FRAME)
    assert dispatch.peek(tnet_message(b"WEBSOCKET_HANDSHAKE")) == (key, dispatch.REQUEST)
    assert dispatch.peek(tnet_message(b"HEAD")) == (key, dispatch.HEAD)
    assert dispatch.peek(b's 7 / 17:{"METHOD":"HEAD"},0:,') == (b"s 7", dispatch.HEAD)
    done = b"22:x-mongrel2-upload-done,8:/tmp/x/1,"
    assert dispatch.peek(tnet_message(b"POST", extra=done)) == (key, dispatch.MORE)
    # a body that merely mentions it is still a request
    assert dispatch.peek(tnet_message(b"POST", b"x-mongrel2-upload-done")) \
        == (key, dispatch.REQUEST)
    notice = b'{"type":"disconnect"}'
    assert dispatch.peek(b"s 7 @* 16:6:METHOD,4:JSON,}21:%s," % notice) \
        == (b"s 7", dispatch.DISCONNECT)
    assert dispatch.peek(b's 7 @* 17:{"METHOD":"JSON"},21:%s,' % notice) \
        == (b"s 7", dispatch.DISCONNECT)
    # a POST whose body is the notice's text is a request
    assert dispatch.peek(tnet_message(b"POST", notice)) == (key, dispatch.REQUEST)
    assert dispatch.peek(b's 7 @chat 17:{"METHOD":"JSON"},4:{} ,') == (b"s 7", dispatch.FRAME)


@pytest.mark.parametrize("frame", [
    b"", b"garbage", b"s x / 2:{},0:,", b"s 1", b"s 12", b"s  / 2:{},0:,", b" 1 / 2:{},0:,",
])
def test_scaleout_2_peek_refuses_frames_without_an_envelope(frame):
    with pytest.raises(ValueError):
        dispatch.peek(frame)


@pytest.mark.parametrize("frame", [
    b"s 1 / 2:{},0:,", b"s 1 / -9:6:METHOD,3:GET,}0:,", b"s 1 / 99:6:METHOD,}",
    b"s 1 / 30:-20:6:METHOD,3:GET,1:a,1:b,}0:,", b"s 1 / 12:6:METHOD,-5:GET,}0:,",
    b"s 1 / x:{},0:,", b"s 1 / 12:6:METHOD,3:GET,]0:,", b"s 1 / 5:abc,0:,",
])
def test_scaleout_2_peek_sends_unwalkable_headers_on_as_requests(frame):
    """The worker answers them 400, as on the direct path; negative lengths cannot loop."""
    assert dispatch.peek(frame) == (b"s 1", dispatch.REQUEST)


def test_scaleout_2_reply_targets():
    assert dispatch.reply_targets(b"s 4:1 22, HTTP/1.1 200 OK") == (b"s", [b"1", b"22"], False)
    assert dispatch.reply_targets(b"s 1:7, ") == (b"s", [b"7"], True)
    for bad in (b"", b"s", b"s x:1, ", b"s 9:1, ", b"s 0:, x", b"s -1:1, x", b" 1:1, x"):
        with pytest.raises(ValueError):
            dispatch.reply_targets(bad)


# -- a dispatcher process, driven as the supervisor drives its thread -----------------------

class DispatcherProcess:
    """`tests.mongrel2.dispatcher_runner`: the same calls as the supervisor's, over a pipe."""

    def __init__(self, pull, pub, worker_addr, log_path, *options):
        self.log_path = log_path
        self.log_file = open(log_path, "wb")  # noqa: SIM115  (closed by close())
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.mongrel2.dispatcher_runner", pull, pub, worker_addr,
             *options], cwd=ROOT, env=python_env(), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.log_file)
        assert self._answer() == "started"

    def _answer(self):
        line = self.proc.stdout.readline()
        assert line, f"the dispatcher exited: {self.log()}"
        return json.loads(line)

    def call(self, *words):
        self.proc.stdin.write((" ".join(map(str, words)) + "\n").encode())
        self.proc.stdin.flush()
        return self._answer()

    def wait_ready(self, worker_id, timeout=20):
        assert self.call("wait_ready", worker_id, timeout), \
            f"worker {worker_id} never said READY: {self.log()}"

    def log(self):
        return Path(self.log_path).read_text(errors="replace")

    def alive(self):
        return self.proc.poll() is None

    def close(self):
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        stop(self.proc)
        self.log_file.close()


class Setup:
    def __init__(self, m2, dispatcher, worker_addr, events):
        self.m2, self.dispatcher, self.worker_addr = m2, dispatcher, worker_addr
        self.events = events
        self.workers = {}
        self._stack = contextlib.ExitStack()

    @property
    def port(self):
        return self.m2.config.port

    def start_worker(self, worker_id, pool=100, wait=True):
        env = python_env(
            BRUBECK_CONNECTION=f"mongrel2+dispatcher://{self.worker_addr}",
            BRUBECK_WORKER_ID=worker_id, BRUBECK_CONCURRENCY=BACKEND.name,
            POOL=str(pool), EVENTS_FILE=str(self.events))
        proc = self._stack.enter_context(running(["-m", "brubeck", "serve", APP], env=env))
        self.workers[worker_id] = proc
        if wait:
            self.dispatcher.wait_ready(worker_id)
        return proc

    def close(self):
        self._stack.close()


@contextlib.contextmanager
def dispatched(tmp_path, workers=("1.0", "2.0"), worker_addr=None, pool=100):
    """Real Mongrel2, a dispatcher process between it and real worker processes."""
    with mongrel2_server(tmp_path / "m2") as m2:
        worker_addr = worker_addr or f"tcp://127.0.0.1:{free_port()}"
        dispatcher = DispatcherProcess(m2.config.pull_addr, m2.config.pub_addr, worker_addr,
                                       tmp_path / "dispatcher.log")
        setup = Setup(m2, dispatcher, worker_addr, tmp_path / "events.txt")
        try:
            for worker_id in workers:
                setup.start_worker(worker_id, pool=pool)
            yield setup
        finally:
            setup.close()
            dispatcher.close()


def get(port, path, timeout=10.0):
    """One GET on its own connection: (status, headers, body, arrival time)."""
    with rawhttp.connect(port, timeout) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        reply = rawhttp.read_reply(sock)
        return reply.status, reply.headers, reply.body, time.monotonic()


def in_background(function, *args):
    """Run `function(*args)` green; returns a list that receives its result or error."""
    box = []

    def run():
        try:
            box.append(function(*args))
        except Exception as error:
            box.append(error)
    BACKEND.spawn(run)
    return box


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        BACKEND.sleep(0.02)
    return False


def served_pids(setup, count=40):
    pids = set()
    for _ in range(count):
        status, _, body, _ = get(setup.port, "/pid")
        assert status == 200
        pids.add(int(body))
    return pids


# -- the worker's side of the link ----------------------------------------------------------

def test_scaleout_2_a_plain_send_wakes_the_receiver_it_may_strand():
    """A worker sends replies on its green DEALER by plain pyzmq (connection.send_waking). A
    plain send also reads the socket's pending events: when a message has just arrived, it
    takes the readable edge the worker's receiver waits on, and nothing else would wake it
    (the receiver's guard timer, 0.5 s or pyzmq-gevent's 1 s, at best)."""
    import zmq as plain

    from brubeck.mongrel2.connection import send_waking

    green = BACKEND.zmq
    plain_context, green_context = plain.Context(), green.Context()
    router = plain_context.socket(plain.ROUTER)
    router.setsockopt(plain.RCVTIMEO, 5000)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    dealer = green_context.socket(green.DEALER)
    dealer.setsockopt(green.IDENTITY, b"w")
    dealer.connect(f"tcp://127.0.0.1:{port}")
    receiver = None
    try:
        dealer.send(b"READY")
        assert router.recv_multipart() == [b"w", b"READY"]
        received = []
        receiver = BACKEND.spawn(lambda: received.append(dealer.recv()))
        BACKEND.sleep(0.05)  # the receiver waits on the socket's edge
        router.send_multipart([b"w", b"a request"])
        arrival = time.monotonic() + 0.1
        while time.monotonic() < arrival:  # it arrives while no green thread runs
            pass
        send_waking(dealer, [b"F", b"a reply"])
        assert router.recv_multipart() == [b"w", b"F", b"a reply"]
        for _ in range(40):  # bounded: 0.4 s, under either guard
            if received:
                break
            BACKEND.sleep(0.01)
        assert received == [b"a request"]
    finally:
        if receiver is not None:
            receiver.kill()
        dealer.close(0)
        router.close(0)
        green_context.term()
        plain_context.term()


# -- routing -------------------------------------------------------------------------------

def test_scaleout_2_two_workers_serve_through_the_dispatcher(tmp_path):
    with dispatched(tmp_path) as setup:
        pids = served_pids(setup)
        assert pids == {p.pid for p in setup.workers.values()}
        stats = setup.dispatcher.call("stats")
        assert stats["held"] == 0 and stats["routed"] >= 40
        assert all(w["ready"] and w["held"] == 0 for w in stats["workers"].values())


def test_scaleout_7_workers_reach_the_dispatcher_over_ipc(tmp_path):
    """A socket file in a 0700 directory: no other local user can attach as a worker."""
    private = Path(tempfile.mkdtemp(prefix="brubeck-"))  # short: sun_path <= 107 bytes
    try:
        private.chmod(0o700)
        with dispatched(tmp_path, worker_addr=f"ipc://{private}/workers.sock") as setup:
            assert served_pids(setup) == {p.pid for p in setup.workers.values()}
    finally:
        for child in private.iterdir():
            child.unlink()
        private.rmdir()


def test_scaleout_8_requests_wait_for_a_ready_worker(tmp_path):
    """No worker yet: the request waits in the dispatcher, then the first READY takes it."""
    with dispatched(tmp_path, workers=()) as setup:
        box = in_background(get, setup.port, "/pid")
        assert wait_for(lambda: setup.dispatcher.call("stats")["queued"] == 1)
        proc = setup.start_worker("1.0")
        assert wait_for(lambda: box, 20)
        status, _, body, _ = box[0]
        assert status == 200 and int(body) == proc.pid


def test_scaleout_2_disconnect_notice_reaches_the_holding_worker(tmp_path):
    """A long poll held by one worker learns its client left, while the other serves.

    Routed round robin by Mongrel2, the notice would reach the other worker half
    the time; three long polls in a row would all learn it by luck 1 time in 8.
    """
    with dispatched(tmp_path) as setup:
        for attempt in range(1, 4):
            sock = rawhttp.connect(setup.port)
            sock.sendall(b"GET /wait HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert wait_for(lambda: setup.dispatcher.call("stats")["held"] == 1)
            holder, other = sorted(setup.dispatcher.call("stats")["workers"].items(),
                                   key=lambda item: -item[1]["held"])
            holder = holder[0]
            # the other takes new requests meanwhile (it holds fewer)
            assert served_pids(setup, 10) == {setup.workers[other[0]].pid}
            sock.close()
            # Longer than the handler's own 10 s wait: a lost notice shows as "False"
            # below, not as a timeout here (a loaded machine once took over 10 s).
            assert wait_for(lambda n=attempt: setup.events.exists()
                            and len(setup.events.read_text().splitlines()) == n, 30)
            line = setup.events.read_text().splitlines()[-1]
            assert line == f"gone {setup.workers[holder].pid} True"
            assert wait_for(lambda: setup.dispatcher.call("stats")["held"] == 0)


# -- a worker dies -------------------------------------------------------------------------

def test_scaleout_2_sigkilled_worker_requests_answered(tmp_path):
    """SIGKILL a worker running 4 slow requests with 6 more queued in its socket and one
    stream under way: each request gets 503 + Retry-After within 1 s, the stream a close."""
    with dispatched(tmp_path, workers=("1.0",), pool=4) as setup:
        stream = rawhttp.connect(setup.port)
        stream.sendall(b"GET /stream HTTP/1.1\r\nHost: localhost\r\n\r\n")
        head = stream.recv(65536)
        assert head.startswith(b"HTTP/1.1 200 OK") and head.endswith(b"5\r\nfirst\r\n")
        slow = [in_background(get, setup.port, "/slow?seconds=30", 30) for _ in range(10)]
        assert wait_for(lambda: setup.dispatcher.call("stats")["held"] == 11)

        os.kill(setup.workers["1.0"].pid, signal.SIGKILL)
        killed = time.monotonic()
        assert setup.dispatcher.call("lost", "1.0") == 11
        assert wait_for(lambda: all(slow), 5)
        for box in slow:
            status, headers, _, arrived = box[0]
            assert status == 503 and headers["retry-after"] == ["1"]
            assert headers["connection"] == ["close"]
            assert arrived - killed < 1.0
        stream.settimeout(5)
        assert stream.recv(65536) == b""  # closed, no 503 in the middle of a stream
        stream.close()
        assert "worker 1.0 lost: answered 11 requests" in setup.dispatcher.log()

        setup.start_worker("1.1")  # its replacement serves at once
        assert get(setup.port, "/pid")[0] == 200
        assert setup.dispatcher.call("stats")["workers"].keys() == {"1.1"}


def test_scaleout_2_requests_for_a_vanished_worker_go_to_another(tmp_path):
    """Before anyone calls lost(), a worker gone from the socket gets no more requests."""
    with dispatched(tmp_path) as setup:
        dead = setup.workers["1.0"]
        os.kill(dead.pid, signal.SIGKILL)
        dead.wait(5)
        BACKEND.sleep(0.2)  # the dispatcher's socket notices the peer is gone
        assert served_pids(setup, 10) == {setup.workers["2.0"].pid}


# -- retire and drain ----------------------------------------------------------------------

def test_scaleout_3_retired_worker_finishes_what_it_holds(tmp_path):
    with dispatched(tmp_path) as setup:
        first, second = setup.workers["1.0"].pid, setup.workers["2.0"].pid
        holding = [in_background(get, setup.port, "/slow?seconds=1") for _ in range(2)]
        assert wait_for(lambda: setup.dispatcher.call("stats")["held"] == 2)
        setup.dispatcher.call("retire", "1.0")
        assert served_pids(setup, 20) == {second}
        assert wait_for(lambda: all(holding), 10)
        assert sorted(int(box[0][2]) for box in holding) == sorted([first, second])
        assert all(box[0][0] == 200 for box in holding)
        stats = setup.dispatcher.call("stats")["workers"]
        assert stats["1.0"]["retired"] and stats["1.0"]["held"] == 0


def steady_stream(port, seconds, clients=8):
    """`clients` green loops of GETs (some slow) for `seconds`: their replies' statuses."""
    outcomes = []
    deadline = time.monotonic() + seconds

    def loop(index):
        while time.monotonic() < deadline:
            path = "/slow?seconds=0.2" if index % 2 else "/pid"
            try:
                outcomes.append(get(port, path, timeout=10)[0])
            except Exception as error:
                outcomes.append(repr(error))
    workers = [in_background(loop, i) for i in range(clients)]
    return outcomes, workers


@pytest.mark.parametrize("retire_first", [True, False], ids=["retire-then-sigterm", "sigterm"])
def test_scaleout_3_sigterm_under_a_steady_stream_loses_nothing(tmp_path, retire_first):
    """Rolling-restart order (start the new, retire the old, SIGTERM it): zero lost. Without
    retire(), the worker's own BYE stops new requests before it closes."""
    with dispatched(tmp_path) as setup:
        outcomes, loops = steady_stream(setup.port, 4)
        BACKEND.sleep(1)
        setup.start_worker("1.1")
        if retire_first:
            setup.dispatcher.call("retire", "1.0")
        old = setup.workers["1.0"]
        old.send_signal(signal.SIGTERM)
        assert wait_for(lambda: old.poll() is not None, 20)
        assert old.returncode == 0
        assert wait_for(lambda: all(loops), 20)
        assert outcomes and set(outcomes) == {200}, outcomes
        assert len(outcomes) > 40
        stats = setup.dispatcher.call("stats")
        assert stats["held"] == 0 and stats["workers"]["1.0"]["retired"]


# -- garbage from either side --------------------------------------------------------------

@contextlib.contextmanager
def fake_mongrel2(tmp_path, *options):
    """The test binds Mongrel2's two sockets itself, so it can send what Mongrel2 never would."""
    zmq = BACKEND.zmq
    context = zmq.Context()
    push, sub = context.socket(zmq.PUSH), context.socket(zmq.SUB)
    for sock in (push, sub):
        sock.setsockopt(zmq.LINGER, 0)
    pull_port, pub_port, worker_port = (free_port() for _ in range(3))
    push.bind(f"tcp://127.0.0.1:{pull_port}")
    sub.bind(f"tcp://127.0.0.1:{pub_port}")
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    worker_addr = f"tcp://127.0.0.1:{worker_port}"
    dispatcher = DispatcherProcess(f"tcp://127.0.0.1:{pull_port}",
                                   f"tcp://127.0.0.1:{pub_port}", worker_addr,
                                   tmp_path / "dispatcher.log", *options)
    try:
        yield push, sub, dispatcher, worker_addr
    finally:
        dispatcher.close()
        push.close()
        sub.close()
        context.term()


def recv_within(sock, seconds=5.0, multipart=False):
    zmq = BACKEND.zmq
    receive = sock.recv_multipart if multipart else sock.recv
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            return receive(zmq.NOBLOCK)
        except zmq.Again:
            BACKEND.sleep(0.01)
    raise AssertionError("nothing arrived")


def fake_worker(zmq, worker_addr, ident):
    worker = zmq.Context.instance().socket(zmq.DEALER)
    worker.setsockopt(zmq.IDENTITY, ident)
    worker.setsockopt(zmq.LINGER, 0)
    worker.connect(worker_addr)
    worker.send(b"READY")
    assert recv_within(worker) == b"BATCHES"  # the dispatcher's answer
    return worker


def test_scaleout_2_garbage_from_mongrel2_and_workers_does_not_kill_the_dispatcher(tmp_path):
    zmq = BACKEND.zmq
    with fake_mongrel2(tmp_path) as (push, sub, dispatcher, worker_addr):
        worker = fake_worker(zmq, worker_addr, b"9.0")
        dispatcher.wait_ready("9.0")
        for frame in (b"", b"garbage", b"s x / 2:{},0:,", b"\xff" * 5000, b"s 1",
                      b"s 1 / -9:6:METHOD,3:GET,}0:,", b"s 2 / 99999999999999:{"):
            push.send(frame)
        for parts in ([b"F"], [b"F", b"junk"], [b"NOPE"], [b"READY", b"x"],
                      [b"S", b"s 1:1, x", b"extra"], [b"F", b"s -4:1, x"], [b"BYE", b""],
                      [b"F", b"s 99:1, x"], [b""]):
            worker.send_multipart(parts)
        # Still routing: a request in, the worker's final reply out to "Mongrel2". Frames
        # with an envelope but unwalkable headers go on as requests (the worker answers 400).
        valid = tnet_message(b"GET")
        push.send(valid)
        received = [recv_within(worker) for _ in range(3)]
        assert received[-1] == valid
        assert set(received[:-1]) == {b"s 1 / -9:6:METHOD,3:GET,}0:,", b"s 2 / 99999999999999:{"}
        worker.send_multipart([b"F", b"f00d-1 2:42, HTTP/1.1 204 No Content\r\n\r\n"])
        assert recv_within(sub) == b"f00d-1 2:42, HTTP/1.1 204 No Content\r\n\r\n"
        assert dispatcher.alive()
        stats = dispatcher.call("stats")
        assert stats["malformed"] == 14
        assert "dropped a malformed Mongrel2 message" in dispatcher.log()
        assert "dropped a malformed message from worker 9.0" in dispatcher.log()
        worker.close()


def test_scaleout_2_several_replies_in_one_message_leave_in_order(tmp_path):
    """After BATCHES, a worker's turn of replies comes as one message of verb and reply
    pairs: each is published in order and each final one releases its connection; a
    verb without its reply makes the message malformed."""
    zmq = BACKEND.zmq
    with fake_mongrel2(tmp_path) as (push, sub, dispatcher, worker_addr):
        worker = fake_worker(zmq, worker_addr, b"9.0")
        dispatcher.wait_ready("9.0")
        frames = [tnet_message(b"GET").replace(b" 42 ", b" %d " % conn_id) for conn_id in (1, 2)]
        for frame in frames:
            push.send(frame)
        assert [recv_within(worker) for _ in range(2)] == frames
        assert dispatcher.call("stats")["held"] == 2
        replies = [b"f00d-1 1:2, HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                   b"f00d-1 1:1, HTTP/1.1 204 No Content\r\n\r\n", b"f00d-1 1:2, 0\r\n\r\n"]
        worker.send_multipart([b"S", replies[0], b"F", replies[1], b"F", replies[2]])
        assert [recv_within(sub) for _ in range(3)] == replies
        assert dispatcher.call("stats")["held"] == 0
        worker.send_multipart([b"F", replies[1], b"F"])
        assert wait_for(lambda: dispatcher.call("stats")["malformed"] == 1)
        with pytest.raises(AssertionError, match="nothing arrived"):
            recv_within(sub, 0.3)
        worker.close()


def test_scaleout_2_a_turn_for_a_vanished_worker_goes_to_another_in_order(tmp_path):
    """What one turn routes to a worker leaves as one message; if that worker is gone
    by then, the connections it was given go to another, each connection's requests in
    order."""
    zmq = BACKEND.zmq
    with fake_mongrel2(tmp_path) as (push, _sub, dispatcher, worker_addr):
        gone = fake_worker(zmq, worker_addr, b"9.0")
        dispatcher.wait_ready("9.0")
        gone.close()
        BACKEND.sleep(0.3)  # the dispatcher's socket notices the peer is gone
        other = fake_worker(zmq, worker_addr, b"8.0")
        dispatcher.wait_ready("8.0")
        frames = [tnet_message(b"GET", extra=b"1:n,%d:%d," % (len(str(n)), n))
                  .replace(b" 42 ", b" %d " % conn_id) for n, conn_id in enumerate((1, 2, 1))]
        for frame in frames:
            push.send(frame)
        received = [recv_within(other) for _ in range(3)]
        assert sorted(received) == sorted(frames)
        assert [frame for frame in received if frame.startswith(b"f00d-1 1 ")] \
            == [frames[0], frames[2]]  # in order on each connection
        stats = dispatcher.call("stats")
        assert stats["workers"]["8.0"]["held"] == 3 and stats["held"] == 3
        other.close()


@pytest.mark.parametrize("says_batches", [False, True], ids=["older-dispatcher", "batches"])
def test_scaleout_2_a_worker_batches_replies_only_for_a_dispatcher_that_takes_them(
        tmp_path, says_batches):
    """A real worker behind a stand-in dispatcher: one F/S pair per message until the
    dispatcher says BATCHES (one of an older release never does: a rolling upgrade
    must not make it drop replies), then a turn's replies in messages of up to
    REPLY_BATCH. `/busy` holds the worker while the 40 requests after it are sent,
    so they are read and answered in one turn however the two are scheduled."""
    zmq = BACKEND.zmq
    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    address = f"tcp://127.0.0.1:{free_port()}"
    router.bind(address)
    env = python_env(BRUBECK_CONNECTION=f"mongrel2+dispatcher://{address}",
                     BRUBECK_WORKER_ID="7.0", BRUBECK_CONCURRENCY=BACKEND.name,
                     EVENTS_FILE=str(tmp_path / "events.txt"))
    try:
        with running(["-m", "brubeck", "serve", APP], env=env) as worker:
            assert recv_within(router, 20, multipart=True) == [b"7.0", b"READY"]
            if says_batches:
                router.send_multipart([b"7.0", b"BATCHES"])
            router.send_multipart([b"7.0", tnet_message(b"GET", path=b"/busy")
                                   .replace(b" 42 ", b" 0 ")])
            events = tmp_path / "events.txt"
            deadline = time.monotonic() + 20
            while not (events.exists() and events.read_text().startswith("busy")):
                assert time.monotonic() < deadline, "the worker never ran /busy"
                time.sleep(0.01)
            for conn_id in range(1, 41):
                router.send_multipart(
                    [b"7.0", tnet_message(b"GET").replace(b" 42 ", b" %d " % conn_id)])
            messages, answered = [], set()
            while len(answered) < 41:
                parts = recv_within(router, multipart=True)
                messages.append(parts)
                assert parts[0] == b"7.0" and len(parts) % 2 == 1
                for verb, reply in zip(parts[1::2], parts[2::2], strict=True):
                    conn_id = int(reply.split(b" ")[1].split(b":")[1][:-1])
                    assert verb == b"F" and (b" 200 " if conn_id == 0 else b" 404 ") in reply
                    answered.add(conn_id)
            assert answered == set(range(41))
            largest = max(len(parts) for parts in messages)
            if says_batches:
                assert largest == 1 + 2 * REPLY_BATCH  # a full chunk, then the rest
            else:
                assert largest == 3
            worker.send_signal(signal.SIGTERM)  # its drain ends when its BYE is answered
            assert recv_within(router, 10, multipart=True) == [b"7.0", b"BYE"]
            router.send_multipart([b"7.0", b"BYE"])
            worker.wait(10)
    finally:
        router.close()
        context.term()


def test_scaleout_8_queue_past_its_bound_answers_503(tmp_path):
    with fake_mongrel2(tmp_path, "--queue-limit", "2") as (push, sub, dispatcher, _):
        for conn_id in (1, 2, 3):
            push.send(tnet_message(b"GET").replace(b" 42 ", b" %d " % conn_id))
        reply = recv_within(sub)
        assert reply.startswith(b"f00d-1 1:3, HTTP/1.1 503 Service Unavailable\r\n")
        assert b"Retry-After: 1\r\n" in reply
        assert recv_within(sub) == b"f00d-1 1:3, "  # then closed
        assert dispatcher.call("stats")["queued"] == 2


def test_scaleout_2_lost_worker_head_requests_answered_503_without_a_body(tmp_path):
    """lost() answers a HEAD with the 503's head only (HTTP: a HEAD answer has no body),
    also when it waited behind a pipelined GET that was answered."""
    zmq = BACKEND.zmq
    with fake_mongrel2(tmp_path) as (push, sub, dispatcher, worker_addr):
        worker = fake_worker(zmq, worker_addr, b"9.0")
        dispatcher.wait_ready("9.0")
        on = {conn_id: tnet_message(method).replace(b" 42 ", b" %d " % conn_id)
              for conn_id, method in ((41, b"GET"), (42, b"HEAD"))}
        pipelined = [tnet_message(b"GET").replace(b" 42 ", b" 43 "),
                     tnet_message(b"HEAD").replace(b" 42 ", b" 43 ")]
        for frame in (on[41], on[42], *pipelined):
            push.send(frame)
        assert [recv_within(worker) for _ in range(4)] == [on[41], on[42], *pipelined]
        worker.send_multipart([b"F", b"f00d-1 2:43, HTTP/1.1 204 No Content\r\n\r\n"])
        assert recv_within(sub) == b"f00d-1 2:43, HTTP/1.1 204 No Content\r\n\r\n"
        assert dispatcher.call("lost", "9.0") == 3
        replies = [recv_within(sub) for _ in range(3)]
        assert replies[0] == b"f00d-1 2:41, " + dispatch.UNAVAILABLE
        assert dispatch.UNAVAILABLE.endswith(b"\r\n\r\n503 Service Unavailable\n")
        assert replies[1] == b"f00d-1 5:42 43, " + dispatch.UNAVAILABLE_HEAD
        assert dispatch.UNAVAILABLE_HEAD.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
        assert dispatch.UNAVAILABLE_HEAD.endswith(b"\r\n\r\n")  # the head only
        assert replies[2] == b"f00d-1 8:41 42 43, "  # then all three closed
        worker.close()


def test_scaleout_8_queue_past_its_bound_answers_head_503_without_a_body(tmp_path):
    with fake_mongrel2(tmp_path, "--queue-limit", "1") as (push, sub, _dispatcher, _):
        push.send(tnet_message(b"GET").replace(b" 42 ", b" 1 "))
        push.send(tnet_message(b"HEAD").replace(b" 42 ", b" 2 "))
        assert recv_within(sub) == b"f00d-1 1:2, " + dispatch.UNAVAILABLE_HEAD
        assert recv_within(sub) == b"f00d-1 1:2, "
