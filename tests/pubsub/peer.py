"""A worker process for the pubsub tests: follows a channel, prints what arrives, publishes.

    python tests/pubsub/peer.py URL PREFIX CHANNEL [--after ID] [--publish N] [--expect M]

Prints ``ready`` once following, then one ``ID DATA`` line per message
received (flushed at once), and exits 0 after `--expect` messages (1 after 30 s).
"""

from __future__ import annotations

import argparse
import os
import sys

from brubeck import concurrency, pubsub


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("prefix")
    parser.add_argument("channel")
    parser.add_argument("--after", default=None)
    parser.add_argument("--publish", type=int, default=0)
    parser.add_argument("--expect", type=int, default=0)
    args = parser.parse_args()
    backend = concurrency.select()
    bus = pubsub.connect(args.url, prefix=args.prefix)
    feed = bus.subscribe(args.channel, after=args.after)
    print("ready", flush=True)

    def publish() -> None:
        for i in range(args.publish):
            bus.publish(args.channel, f"{os.getpid()}:{i}")
            backend.sleep(0.002)

    backend.spawn(publish)
    received = 0
    while received < args.expect:
        message = feed.get(timeout=30)
        if message is None:
            return 1
        print(message.id, message.data, flush=True)
        received += 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
