"""Anchor: a blocking pyzmq loop behind Mongrel2, no greenlets: Mongrel2's own limit.

    python -m bench.apps.m2_raw_pyzmq PULL_ADDR PUB_ADDR
"""

import sys

import zmq

from bench.apps.m2_common import reply_for


def main(pull_addr: str, pub_addr: str) -> None:
    context = zmq.Context()
    pull = context.socket(zmq.PULL)
    pull.connect(pull_addr)
    pub = context.socket(zmq.PUB)
    pub.connect(pub_addr)
    while True:
        reply = reply_for(pull.recv())
        if reply is not None:
            pub.send(reply)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
