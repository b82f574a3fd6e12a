"""Turn rounds of samples into rows, ratios, targets, and the JSON/markdown/PNG outputs.

Ratios are taken round by round (a Brubeck row over its baseline measured in
the same round), then summarised as median and min–max, so machine noise that
moves both servers cancels and what is left shows as the spread.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from bench.machine import one_line

TORNADO = "tornado"
FALCON = "falcon-gevent"


def _summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def build_rows(servers: dict, samples: dict) -> list[dict]:
    """`samples[(server, scenario, conns)]` is a list (one per round) of Sample dicts or None."""
    rows = []
    for (name, scenario, conns), per_round in samples.items():
        server = servers[name]
        good = [s for s in per_round if s is not None]
        if not good:
            continue
        row = {
            "server": name, "label": server.label, "scenario": scenario, "connections": conns,
            "baseline": server.baseline, "rounds": per_round,
            "rps": _summary([s["rps"] for s in good]),
            "p50_ms": statistics.median(s["p50_ms"] for s in good),
            "p99_ms": statistics.median(s["p99_ms"] for s in good),
            "errors": sum(s["errors"] for s in good),
            "requests": sum(s["requests"] for s in good),
        }
        if all(s.get("cpu_s") for s in good):
            row["per_cpu_s"] = _summary([s["requests"] / s["cpu_s"] for s in good])
        for key, other in (("vs_baseline", server.baseline), ("vs_tornado", TORNADO),
                           ("vs_falcon", FALCON)):
            if server.baseline is None or other is None:
                continue
            anchor = samples.get((other, "hello", conns), [])
            # anchor is [] when the other server has no hello rounds at this level: no ratios
            pairs = list(zip(per_round, anchor, strict=False))
            ratios = [mine["rps"] / base["rps"] for mine, base in pairs
                      if mine and base and base["rps"]]
            if ratios:
                row[key] = _summary(ratios)
            per_cpu = [mine["requests"] / mine["cpu_s"] / (base["requests"] / base["cpu_s"])
                       for mine, base in pairs
                       if mine and base and mine.get("cpu_s") and base.get("cpu_s")]
            if per_cpu:
                row[key + "_cpu"] = _summary(per_cpu)
        rows.append(row)
    return rows


def _find(rows: list[dict], server: str, scenario: str, conns: int) -> dict | None:
    for row in rows:
        if (row["server"], row["scenario"], row["connections"]) == (server, scenario, conns):
            return row
    return None


def targets(rows: list[dict], connections: list[int], duration: float) -> list[dict]:
    """The issue's targets, each with its measured ratio (median and spread)."""
    goals = [
        ("Brubeck WSGI+gevent hello / raw gevent.pywsgi", "brubeck-gevent-wsgi",
         "vs_baseline", 0.90),
        ("Brubeck WSGI+gevent hello / Tornado", "brubeck-gevent-wsgi", "vs_tornado", 1.5),
        ("Brubeck Mongrel2+gevent hello, 1 worker / zmq.green anchor",
         "brubeck-gevent-m2-1", "vs_baseline", 0.60),
        ("Brubeck Mongrel2+gevent hello, 1 worker / Falcon on pywsgi",
         "brubeck-gevent-m2-1", "vs_falcon", 1.0),
    ]
    found = []
    for conns in connections:
        for text, server, key, goal in goals:
            row = _find(rows, server, "hello", conns)
            if row is None or key not in row:
                continue
            ratio = row[key]
            found.append({"target": text, "connections": conns, "goal": goal,
                          "ratio": ratio, "met": ratio["median"] >= goal,
                          "ratio_cpu": row.get(key + "_cpu")})
    high = max(connections)
    brubeck_rows = [r for r in rows if r["baseline"] and r["connections"] == high]
    if brubeck_rows:
        errors = sum(r["errors"] for r in brubeck_rows)
        found.append({"target": f"Brubeck rows at {high} connections for {duration:g} s: "
                      "0 errors", "connections": high, "goal": 0,
                      "errors": errors, "met": errors == 0 if duration >= 10 else None})
    return found


def _span(summary: dict | None, fmt: str) -> str:
    if not summary:
        return ""
    if summary["min"] == summary["max"]:
        return format(summary["median"], fmt)
    return (f"{format(summary['median'], fmt)} "
            f"({format(summary['min'], fmt)}–{format(summary['max'], fmt)})")


def _verdict(met: bool | None) -> str:
    return "n/a (under 10 s)" if met is None else ("yes" if met else "no")


def markdown(result: dict) -> str:
    settings = result["settings"]
    lines = [
        f"Machine: {one_line(result['machine'])}; load {settings['tool']}, "
        f"{settings['duration']:g} s per row, {settings['rounds']} round(s), "
        f"load average at start {result['machine']['load_average'][0]}.",
        "",
        "req/CPU-s counts the server's CPU (its workers and Mongrel2 included); ÷ columns "
        "divide by the baseline's hello from the same round, by req/s and by req/CPU-s.",
        "",
        "| stack | scenario | conns | req/s | p50 ms | p99 ms | errors | req/CPU-s "
        "| ÷ baseline | ÷ baseline (CPU) | ÷ Tornado |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['label']} | {row['scenario']} | {row['connections']} | "
            f"{_span(row['rps'], '.0f')} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | "
            f"{row['errors']} | {_span(row.get('per_cpu_s'), '.0f')} | "
            f"{_span(row.get('vs_baseline'), '.2f')} | "
            f"{_span(row.get('vs_baseline_cpu'), '.2f')} | "
            f"{_span(row.get('vs_tornado'), '.2f')} |")
    if result["targets"]:
        lines += ["", "| target | conns | goal | measured (req/s) | met | by req/CPU-s |",
                  "|---|--:|--:|--:|:-:|--:|"]
        for t in result["targets"]:
            measured = _span(t["ratio"], ".2f") if "ratio" in t else f"{t['errors']} errors"
            lines.append(f"| {t['target']} | {t['connections']} | {t['goal']} | {measured} | "
                         f"{_verdict(t['met'])} | {_span(t.get('ratio_cpu'), '.2f')} |")
    if result.get("skipped"):
        lines += ["", "Skipped: " + "; ".join(result["skipped"])]
    return "\n".join(lines) + "\n"


def plot(result: dict, path: Path) -> bool:
    """Requests/s per row and connection count, min–max as error bars; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows = result["rows"]
    labels = list(dict.fromkeys(f"{r['label']} {r['scenario']}" for r in rows))
    levels = sorted({r["connections"] for r in rows})
    height = 0.8 / max(1, len(levels))
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(labels) + 1.5))
    for i, conns in enumerate(levels):
        ys, xs, lo, hi = [], [], [], []
        for row in rows:
            if row["connections"] != conns:
                continue
            ys.append(labels.index(f"{row['label']} {row['scenario']}") + i * height)
            xs.append(row["rps"]["median"])
            lo.append(row["rps"]["median"] - row["rps"]["min"])
            hi.append(row["rps"]["max"] - row["rps"]["median"])
        ax.barh(ys, xs, height, xerr=[lo, hi], label=f"{conns} connections", capsize=2)
    ax.set_yticks([k + height * (len(levels) - 1) / 2 for k in range(len(labels))], labels)
    ax.invert_yaxis()
    ax.set_xlabel("requests/s (median of rounds; bars show min–max)")
    ax.set_title(f"Brubeck benchmarks, {result['machine']['cores']} cores, "
                 f"{result['settings']['duration']:g} s per row")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def write(result: dict, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "latest.json", out / "latest.md"]
    (out / "latest.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "latest.md").write_text(markdown(result))
    if plot(result, out / "latest.png"):
        written.append(out / "latest.png")
    return written
