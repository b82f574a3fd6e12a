"""Anchor: zmq.green with one greenlet per request behind Mongrel2 (Brubeck's own model).

    python -m bench.apps.m2_green PULL_ADDR PUB_ADDR
"""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

import gevent  # noqa: E402
import zmq.green as zmq  # noqa: E402

from bench.apps.m2_common import reply_for  # noqa: E402


def answer(pub, message: bytes) -> None:
    reply = reply_for(message)
    if reply is not None:
        pub.send(reply)


def main(pull_addr: str, pub_addr: str) -> None:
    context = zmq.Context()
    pull = context.socket(zmq.PULL)
    pull.connect(pull_addr)
    pub = context.socket(zmq.PUB)
    pub.connect(pub_addr)
    while True:
        gevent.spawn(answer, pub, pull.recv())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
