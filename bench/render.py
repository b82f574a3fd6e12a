"""Jinja2's own time for the bench page, rendered in process: what templating may cost.

The Jinja2 scenario's cost above hello (CPU per request, from the same run)
is held against this: the page's render time with the same environment
settings Brubeck uses (autoescape on, compiled template cached) and the same
context, with nothing else around it.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

TEMPLATES = Path(__file__).with_name("apps") / "templates"


def page_template():
    """page.html from the Environment Brubeck's own loader builds (`load_jinja2_env`:
    autoescape on, never re-read); ImportError without Jinja2."""
    from brubeck.templating import load_jinja2_env

    return load_jinja2_env(str(TEMPLATES))().get_template("page.html")


def jinja2_render_us(renders: int = 2000, repeats: int = 7) -> float | None:
    """CPU microseconds per render of page.html (the least of `repeats` timings:
    other load only ever adds), or None without Jinja2."""
    try:
        template = page_template()
    except ImportError:
        return None
    timings = []
    for _ in range(repeats):
        started = time.process_time()
        for _ in range(renders):
            template.render(title="Brubeck", items=range(10)).encode("utf-8")
        timings.append((time.process_time() - started) / renders * 1e6)
    return min(timings) if timings else statistics.nan


if __name__ == "__main__":
    print(f"Jinja2 page.html: {jinja2_render_us():.1f} us CPU per render")
