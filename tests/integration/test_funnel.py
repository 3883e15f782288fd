"""Funnels (jobs/funnel) over the journeys dataset (journeys_data.py), against chDB; each count
compared with a plain-Python greedy match on the same rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jobs.funnel import Step, funnel, parse_steps, parse_window, render
from pipeline.errors import Terminal
from tests.conftest import run_cli
from tests.integration.journeys_data import journeys, ms

pytestmark = pytest.mark.integration


def funnel_levels(steps: list[Step], window_ms: int) -> dict[str, tuple[int, str]]:
    """Per person: the longest prefix of the steps done in order within the window (greedy
    earliest match from each possible start), and the channel of the earliest first step."""
    def matches(e: dict[str, Any], step: Step) -> bool:
        return e[step.column] == step.value

    out = {}
    for person, evs in journeys().items():
        best = 0
        for start in (e for e in evs if matches(e, steps[0])):
            level, last = 1, start
            for step in steps[1:]:
                found = next((e for e in evs if ms(last["occurred_at"]) < ms(e["occurred_at"])
                              <= ms(start["occurred_at"]) + window_ms and matches(e, step)), None)
                if found is None:
                    break
                level, last = level + 1, found
            best = max(best, level)
        firsts = [e for e in evs if matches(e, steps[0])]
        out[person] = (best, firsts[0]["channel"] if firsts else "")
    return out


@pytest.mark.parametrize("raw, window", [
    (["page_view", "touchpoint:hotline", "purchase"], "7d"),
    (["page_view", "touchpoint:hotline", "purchase"], "12h"),
    (["touchpoint:homepage", "support_call", "survey_response"], "30d"),
    (["page_view", "touchpoint:it's {s0:String}"], "7d"),  # hostile names are only parameters
    (["page_view", "page_view", "purchase"], "30d"),  # a repeated step is another event
])  # fmt: skip
def test_funnel(loaded: Any, raw: list[str], window: str) -> None:
    steps, window_s = parse_steps(raw), parse_window(window)
    levels = funnel_levels(steps, window_s * 1000)
    result = funnel(loaded, steps, window_s, by_channel=True)

    def expected(people: list[int]) -> list[int]:
        return [sum(level >= i for level in people) for i in range(1, len(steps) + 1)]

    reached = expected([level for level, _ in levels.values()])
    assert [c.persons for c in result.overall] == reached
    for i, count in enumerate(result.overall):
        prev = reached[i - 1] if i else None
        assert count.from_previous == (pytest.approx(100 * reached[i] / prev) if prev else None)
        first = reached[0]
        assert count.from_first == (pytest.approx(100 * reached[i] / first) if first else None)
    channels = {ch for level, ch in levels.values() if level}
    assert set(result.by_channel) == channels
    for channel in channels:
        got = [c.persons for c in result.by_channel[channel]]
        assert got == expected([level for level, ch in levels.values() if ch == channel]), channel
    text = render(result)
    assert raw[0] in text and "from first" in text


def test_funnel_numbers_are_the_intended_ones(loaded: Any) -> None:
    steps = parse_steps(["page_view", "touchpoint:hotline", "purchase"])
    week = funnel(loaded, steps, parse_window("7d"))
    assert [c.persons for c in week.overall] == [5, 3, 1]  # pA, pB, pF page views; pA buys
    half_day = funnel(loaded, steps, parse_window("12h"))
    assert [c.persons for c in half_day.overall] == [5, 2, 0]  # pF's hotline is 24 h later
    spelt = funnel(loaded, parse_steps(["Page View", "touchpoint:hotline", "Order Completed"]), parse_window("7d"))
    assert [c.persons for c in spelt.overall] == [5, 3, 1]  # event types as ingest stores them


def test_a_step_no_event_matches_is_named_as_a_likely_typo(loaded: Any) -> None:
    result = funnel(loaded, parse_steps(["page_view", "purchase", "touchpoint:hotlnie"]), parse_window("7d"))
    assert [s.label for s in result.never_done] == ["touchpoint:hotlnie"]
    assert "SELECT DISTINCT touchpoint FROM parcours.v_events" in render(result)
    assert not funnel(loaded, parse_steps(["page_view", "purchase"]), parse_window("1s")).never_done


def test_funnel_arguments() -> None:
    with pytest.raises(Terminal, match="at least 2 steps") as raised:
        parse_steps(["purchase"])
    assert "touchpoint:NAME" in raised.value.hint
    with pytest.raises(Terminal):
        parse_steps(["purchase", "touchpoint:"])
    second = parse_steps(["purchase", "touchpoint:hotline"])[1]
    assert second == Step("touchpoint:hotline", "touchpoint", "hotline")
    assert parse_window("7d") == 7 * 86400 and parse_window("90m") == 5400
    assert parse_window("3600") == 3600
    with pytest.raises(Terminal):
        parse_window("soon")


def test_funnel_cli_needs_two_steps(tmp_path: Path) -> None:
    """The error path never opens ClickHouse, so a subprocess costs no second engine here."""
    done = run_cli(["funnel", "purchase"], tmp_path / "parcours", timeout=60)
    assert done.returncode == 2
    assert "at least 2 steps" in done.stderr and "hint:" in done.stderr
