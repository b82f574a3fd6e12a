"""The README's benchmark paragraph and table, from a run's latest.json.

    python -m bench.readme_table [bench/results/latest.json]

Prints reStructuredText to paste under README.rst's "Benchmarks" heading, so
the README shows only figures a run produced: medians over the run's rounds,
each Brubeck ratio taken round by round against its baseline.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

from bench.machine import one_line

LATEST = Path(__file__).with_name("results") / "latest.json"

#: (server, scenario, label, what its ratio is to): the README's rows, in order.
ROWS = [
    ("raw-gevent", "hello", "raw gevent.pywsgi", "baseline"),
    ("brubeck-gevent-wsgi", "hello", "Brubeck, gevent, WSGI (class)", "of raw"),
    ("brubeck-gevent-wsgi", "function", "Brubeck, gevent, WSGI (function)", "of raw"),
    ("tornado", "hello", "Tornado 6", ""),
    ("falcon-gevent", "hello", "Falcon on gevent.pywsgi", ""),
    ("raw-eventlet", "hello", "raw eventlet.wsgi", "baseline"),
    ("brubeck-eventlet-wsgi", "hello", "Brubeck, eventlet, WSGI", "of raw"),
    ("m2-raw-pyzmq", "hello", "Mongrel2 + raw pyzmq", ""),
    ("m2-zmq-green", "hello", "Mongrel2 + zmq.green greenlets", "baseline"),
    ("brubeck-gevent-m2-1", "hello", "Brubeck, gevent, Mongrel2, 1 wkr", "of anchor"),
    ("brubeck-eventlet-m2-1", "hello", "Brubeck, eventlet, Mongrel2, 1 wkr", "of anchor"),
    ("brubeck-gevent-m2-2", "hello", "Brubeck, gevent, Mongrel2, 2 wkrs", "of anchor"),
    ("brubeck-m2-dispatch-gevent", "hello", "Brubeck, gevent, dispatcher, 1 wkr",
     "of anchor"),
    ("brubeck-m2-dispatch-eventlet", "hello", "Brubeck, eventlet, dispatcher, 1 wkr",
     "of anchor"),
]


def _row(rows: list[dict], server: str, scenario: str, conns: int) -> dict | None:
    for row in rows:
        if (row["server"], row["scenario"], row["connections"]) == (server, scenario, conns):
            return row
    return None


def _ratio(row: dict | None, key: str) -> str:
    return f"{row[key]['median']:.2f}" if row and key in row else "–"


def table(result: dict) -> str:
    levels = result["settings"]["connections"][:2]
    rows = result["rows"]
    header = ("stack (hello)", *(f"{c} conns" for c in levels), "÷ baseline, req/s",
              "÷ baseline, req/CPU-s")
    lines = []
    for server, scenario, label, what in ROWS:
        found = [_row(rows, server, scenario, c) for c in levels]
        if not any(found):
            continue
        rps = [f"{r['rps']['median']:.0f}" if r else "–" for r in found]
        if what in ("", "baseline"):
            by_rps = by_cpu = what
        else:
            by_rps = " / ".join(_ratio(r, "vs_baseline") for r in found) + f" {what}"
            by_cpu = " / ".join(_ratio(r, "vs_baseline_cpu") for r in found)
        lines.append((label, *rps, by_rps, by_cpu))
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines,
                                                                        strict=True)]
    rule = "  ".join("=" * w for w in widths)

    def fmt(cells: tuple[str, ...]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([rule, fmt(header), rule, *(fmt(line) for line in lines), rule])


def paragraph(result: dict) -> str:
    settings = result["settings"]
    return (f"Latest run ({settings['duration']:g} s per row, median of {settings['rounds']}"
            f" rounds; ratios by requests/s and by requests per CPU-second, at "
            f"{' / '.join(str(c) for c in settings['connections'][:2])} connections): "
            f"{one_line(result['machine'])}, shared by wrk, the servers and Mongrel2"
            f" (load average {result['machine']['load_average'][0]} at the start).")


def main(argv: list[str]) -> None:
    result = json.loads(Path(argv[0] if argv else LATEST).read_text())
    print(textwrap.fill(paragraph(result), 84))
    print()
    print(table(result))


if __name__ == "__main__":
    main(sys.argv[1:])
