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
        if all(s.get("render_us") for s in good):
            row["render_us"] = _summary([s["render_us"] for s in good])
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


def _paired(row: dict, other: dict, cpu: bool = False) -> dict | None:
    """Round-by-round ratio of two rows' req/s (or req/CPU-s), summarised."""
    ratios = []
    for mine, base in zip(row["rounds"], other["rounds"], strict=False):
        if not (mine and base):
            continue
        if cpu:
            if mine.get("cpu_s") and base.get("cpu_s"):
                ratios.append(mine["requests"] / mine["cpu_s"]
                              / (base["requests"] / base["cpu_s"]))
        elif base["rps"]:
            ratios.append(mine["rps"] / base["rps"])
    return _summary(ratios) if ratios else None


def _goal(text: str, conns: int, goal: float, ratio: dict | None,
          ratio_cpu: dict | None) -> dict | None:
    if ratio is None:
        return None
    met = ratio["median"] >= goal and (ratio_cpu is None or ratio_cpu["median"] >= goal)
    return {"target": text, "connections": conns, "goal": goal, "ratio": ratio,
            "ratio_cpu": ratio_cpu, "met": met}


def _ratio_goals(rows: list[dict], conns: int) -> list[dict | None]:
    """Issue 17's ratio goals at one connection count (req/s and req/CPU-s must both meet)."""
    found: list[dict | None] = []
    for backend in ("gevent", "eventlet"):
        wsgi = _find(rows, f"brubeck-{backend}-wsgi", "hello", conns)
        if wsgi is not None:
            goal = 0.90
            found.append(_goal(f"Brubeck {backend} WSGI hello / raw {backend} WSGI", conns,
                               goal, wsgi.get("vs_baseline"), wsgi.get("vs_baseline_cpu")))
        for name, how in ((f"brubeck-{backend}-m2-1", "1 worker"),
                          (f"brubeck-m2-dispatch-{backend}", "1 worker via the dispatcher")):
            for scenario in ("hello", "function", "json"):
                row = _find(rows, name, scenario, conns)
                if row is not None:
                    found.append(_goal(
                        f"Brubeck Mongrel2+{backend} {scenario}, {how} / zmq.green anchor",
                        conns, 0.80, row.get("vs_baseline"), row.get("vs_baseline_cpu")))
            hello = _find(rows, name, "hello", conns)
            if hello is None:
                continue
            found.append(_goal(f"Brubeck Mongrel2+{backend} hello, {how} / Falcon on pywsgi",
                               conns, 1.0, hello.get("vs_falcon"), hello.get("vs_falcon_cpu")))
            if wsgi is not None:
                found.append(_goal(
                    f"Brubeck Mongrel2+{backend} hello, {how} / Brubeck {backend} WSGI hello",
                    conns, 1.0, _paired(hello, wsgi), _paired(hello, wsgi, cpu=True)))
    wsgi = _find(rows, "brubeck-gevent-wsgi", "hello", conns)
    if wsgi is not None:
        found.append(_goal("Brubeck WSGI+gevent hello / Tornado", conns, 1.5,
                           wsgi.get("vs_tornado"), wsgi.get("vs_tornado_cpu")))
    return found


def _above(row: dict | None, hello: dict | None) -> dict | None:
    """`row`'s CPU us per request above `hello`'s, round by round (each pair measured
    in one server process, seconds apart): median and spread, or None."""
    if row is None or hello is None:
        return None
    extra = [1e6 * (mine["cpu_s"] / mine["requests"] - base["cpu_s"] / base["requests"])
             for mine, base in zip(row["rounds"], hello["rounds"], strict=False)
             if mine and base and mine.get("cpu_s") and base.get("cpu_s")
             and mine["requests"] and base["requests"]]
    return _summary(extra) if extra else None


def _template_goals(rows: list[dict], conns: int, render_us: float | None) -> list[dict]:
    """The Jinja2 page's CPU per request above hello, against Jinja2's own render's.

    Both sides are measured alike, in the same server and rounds: the page's row
    and the `render` row (the same page rendered by hand with `Template.render`,
    hello's body sent), each less hello's row of its round. A render costs more
    between a server's other work than alone, so the render's time in a hot loop
    (`bench/render.py`) and around its call in the server are shown, not held.
    """
    found = []
    for row in rows:
        if row["scenario"] != "jinja2" or row["connections"] != conns:
            continue
        hello = _find(rows, row["server"], "hello", conns)
        render_row = _find(rows, row["server"], "render", conns)
        page, render = _above(row, hello), _above(render_row, hello)
        if page is None or (render is None and render_us is None):
            continue
        limit = render["median"] if render else render_us
        parts = [f"page {_span(page, '.0f')} us above hello"]
        if render:
            parts.append(f"Jinja2's render by hand {_span(render, '.0f')} us above hello")
        timed = render_row.get("render_us") if render_row else None
        if timed:
            parts.append(f"timed around the call {timed['median']:.0f} us")
        if render_us is not None:
            parts.append(f"in a hot loop {render_us:.0f} us")
        found.append({"target": f"{row['label']} jinja2: CPU per request above hello <= "
                      "Jinja2's own render", "connections": conns, "goal": 1.0,
                      "text": "; ".join(parts), "met": page["median"] <= limit})
    return found


def _instruction_goal(counts: dict | None) -> dict | None:
    """The same target in process, in instructions (bench/instructions.py): no noise."""
    if not counts:
        return None
    above, render = counts["page_above_hello"], counts["render"]
    return {"target": "Jinja2 page, in process (callgrind): instructions above hello <= "
            "Template.render's", "connections": "-", "goal": 1.0,
            "text": f"{above / 1000:.1f}k against {render / 1000:.1f}k "
                    f"({above / render:.2f})", "met": above <= render}


def _tail_goal(rows: list[dict], high: int, duration: float) -> dict | None:
    """Every Brubeck row at the highest count: no errors, p99 at most 3x p50."""
    brubeck_rows = [r for r in rows if r["baseline"] and r["connections"] == high]
    if not brubeck_rows:
        return None
    errors = sum(r["errors"] for r in brubeck_rows)
    long_tails = [f"{r['label']} {r['scenario']}" for r in brubeck_rows
                  if r["p99_ms"] > 3 * r["p50_ms"]]
    text = f"{errors} errors; p99 > 3x p50 in {len(long_tails)} of {len(brubeck_rows)} rows"
    if long_tails:
        text += " (" + ", ".join(long_tails) + ")"
    met = errors == 0 and not long_tails
    return {"target": f"Brubeck rows at {high} connections for {duration:g} s: 0 errors, "
            "p99 <= 3x p50", "connections": high, "goal": 0, "errors": errors, "text": text,
            "met": met if duration >= 10 else None}


def targets(rows: list[dict], connections: list[int], duration: float,
            render_us: float | None = None, instructions: dict | None = None) -> list[dict]:
    """The issue's targets, each with its measured ratio (median and spread)."""
    found: list[dict | None] = []
    for conns in connections:
        found += _ratio_goals(rows, conns)
        found += _template_goals(rows, conns, render_us)
    found.append(_instruction_goal(instructions))
    found.append(_tail_goal(rows, max(connections), duration))
    return [t for t in found if t is not None]


def _span(summary: dict | None, fmt: str) -> str:
    if not summary:
        return ""
    if summary["min"] == summary["max"]:
        return format(summary["median"], fmt)
    return (f"{format(summary['median'], fmt)} "
            f"({format(summary['min'], fmt)}–{format(summary['max'], fmt)})")


def _verdict(met: bool | None) -> str:
    return "n/a (under 10 s)" if met is None else ("yes" if met else "no")


def _instruction_line(counts: dict) -> str:
    return (f"Instructions per call in process (callgrind, bench/instructions.py): WSGI "
            f"hello {counts['hello'] / 1000:.1f}k, the Jinja2 page {counts['page'] / 1000:.1f}k, "
            f"Jinja2's own Template.render of the page {counts['render'] / 1000:.1f}k.")


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
        *([f"Jinja2's own render of the page, in process: "
           f"{result['jinja2_render_us']:.1f} us CPU.", ""]
          if result.get("jinja2_render_us") else []),
        *([_instruction_line(result["jinja2_instructions"]), ""]
          if result.get("jinja2_instructions") else []),
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
            measured = t.get("text") or _span(t.get("ratio"), ".2f")
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
