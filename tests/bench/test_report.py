"""The template targets: both sides measured alike, round by round."""

from bench import report


def _sample(cpu_us_per_request: float, requests: int = 10_000) -> dict:
    return {"requests": requests, "cpu_s": cpu_us_per_request * requests / 1e6}


def _row(scenario: str, per_round: list, **extra) -> dict:
    return {"server": "brubeck-gevent-wsgi", "label": "Brubeck gevent WSGI",
            "scenario": scenario, "connections": 100, "rounds": per_round, **extra}


def test_the_page_and_the_render_are_each_taken_above_hello_of_their_own_round():
    # The machine slows by half in round 2: hello, page and render all move with it.
    rows = [_row("hello", [_sample(100), _sample(150), _sample(100)]),
            _row("jinja2", [_sample(125), _sample(180), _sample(124)]),
            _row("render", [_sample(130), _sample(185), _sample(131)],
                 render_us={"median": 20.0, "min": 19.0, "max": 22.0})]
    [goal] = report._template_goals(rows, 100, render_us=15.0)
    assert goal["met"] is True  # page 25 (24-30) us above hello, render 31 (30-35)
    assert goal["text"].startswith("page 25 (24\u201330) us above hello; Jinja2's render by hand "
                                   "31 (30\u201335) us above hello")
    assert "timed around the call 20 us" in goal["text"] and "hot loop 15 us" in goal["text"]


def test_a_page_above_the_render_misses_and_a_missing_round_is_left_out():
    rows = [_row("hello", [_sample(100), None, _sample(100)]),
            _row("jinja2", [_sample(140), _sample(999), _sample(142)]),
            _row("render", [_sample(130), _sample(130), _sample(132)])]
    [goal] = report._template_goals(rows, 100, render_us=None)
    assert goal["met"] is False
    assert goal["text"] == ("page 41 (40\u201342) us above hello; Jinja2's render by hand "
                            "31 (30\u201332) us above hello")


def test_without_a_render_row_the_hot_loop_is_the_limit():
    rows = [_row("hello", [_sample(100)]), _row("jinja2", [_sample(118)])]
    assert report._template_goals(rows, 100, render_us=20.0)[0]["met"] is True
    assert report._template_goals(rows, 100, render_us=15.0)[0]["met"] is False


def test_the_instruction_target_holds_the_page_against_template_render():
    counts = {"hello": 107_000.0, "page": 227_000.0, "page_above_hello": 120_000.0,
              "render": 153_000.0}
    goal = report._instruction_goal(counts)
    assert goal["met"] is True and goal["text"] == "120.0k against 153.0k (0.78)"
    assert report._instruction_goal({**counts, "page_above_hello": 160_000.0})["met"] is False
    assert report._instruction_goal(None) is None
