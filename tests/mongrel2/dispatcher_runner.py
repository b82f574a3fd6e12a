"""A dispatcher in a thread of its own process, driven line by line on stdin (for tests).

    python -m tests.mongrel2.dispatcher_runner PULL PUB WORKER_ADDR [--queue-limit N]

Commands (one per line): `wait_ready ID TIMEOUT`, `retire ID`, `lost ID`, `stats`,
`stop TIMEOUT`; each answers one JSON line on stdout. Logs go to stderr. The
supervisor runs the dispatcher the same way, in a thread beside its main loop;
the test process cannot (it is monkey-patched by a green library).
"""

import json
import logging
import sys

from brubeck.mongrel2.dispatcher import Dispatcher


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s: %(message)s")
    pull, pub, workers, *options = sys.argv[1:]
    queue_limit = int(options[1]) if options[:1] == ["--queue-limit"] else 10000
    dispatcher = Dispatcher(pull, pub, workers, queue_limit=queue_limit)
    dispatcher.start()
    print(json.dumps("started"), flush=True)
    for line in sys.stdin:
        command, *args = line.split()
        if command == "wait_ready":
            result = dispatcher.wait_ready(args[0], float(args[1]))
        elif command == "retire":
            result = dispatcher.retire(args[0])
        elif command == "lost":
            result = dispatcher.lost(args[0])
        elif command == "stats":
            result = dispatcher.stats()
        elif command == "stop":
            result = dispatcher.stop(float(args[0]))
            print(json.dumps(result), flush=True)
            return
        else:
            result = f"unknown command {command}"
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
