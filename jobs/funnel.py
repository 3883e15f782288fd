"""`parcours funnel STEP STEP ... [--window 7d] [--by-channel]`: how many persons go through
the steps in order within a time window, and where they fall out.

A step is an event type (`product_view`) or a touchpoint (`touchpoint:hotline`). Each person's
progress is ClickHouse's `windowFunnel` over v_events (current, re-attributed persons): the
longest prefix of the steps the person did in order, the last within the window of the first.
With `--by-channel` the persons are split by the channel of their earliest first-step event.

strategy: one query (jobs/sql/funnel/levels.sql) returns (entry channel, level, persons);
"reached step i" is the number of persons whose level is >= i, summed in Python. The step
conditions are built from two fixed templates, and the step names go to ClickHouse as query
parameters ({s0:String}, ...), never into the SQL text.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import Terminal
from pipeline.settings import parse_duration
from pipeline.sink.clickhouse import query_rows
from pipeline.taxonomy import canonical_event_type

SQL_DIR = Path(__file__).parent / "sql" / "funnel"
TOUCHPOINT_PREFIX = "touchpoint:"


@dataclass(frozen=True)
class Step:
    label: str
    """What the user typed: `purchase` or `touchpoint:hotline`."""
    column: str
    """The v_events column the step matches: event_type or touchpoint."""
    value: str


@dataclass(frozen=True)
class StepCount:
    step: Step
    persons: int
    from_previous: float | None
    """Percent of the previous step's persons (None for the first step or after 0 persons)."""
    from_first: float | None
    """Percent of the first step's persons (None when nobody did the first step)."""


@dataclass(frozen=True)
class Funnel:
    steps: list[Step]
    window_s: int
    overall: list[StepCount]
    by_channel: dict[str, list[StepCount]]
    """Entry channel -> counts; empty unless asked for."""
    never_done: list[Step] = field(default_factory=list)
    """Steps no event matches at all: a misspelt name, most likely."""


def sql(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text()


def parse_steps(raw: list[str]) -> list[Step]:
    """`purchase` -> event type; `touchpoint:hotline` -> touchpoint. At least two steps."""
    if len(raw) < 2:
        raise Terminal(f"a funnel needs at least 2 steps, got {len(raw)}",
                       hint="e.g. `parcours funnel product_view add_to_cart purchase --window 7d`; "
                            "a step is an event type or touchpoint:NAME")
    steps = []
    for text in raw:
        if text.startswith(TOUCHPOINT_PREFIX):
            column, value = "touchpoint", text[len(TOUCHPOINT_PREFIX):]
        else:  # written as ingest stores it: "Order Completed" is purchase
            column, value = "event_type", canonical_event_type(text.strip())
        if not value.strip():
            raise Terminal(f"empty funnel step {text!r}",
                           hint="write an event type (purchase) or touchpoint:NAME "
                                "(touchpoint:hotline)")
        steps.append(Step(text, column, value))
    return steps


def parse_window(text: str) -> int:
    """'7d' -> 604800 seconds (also ms, s, m, h; a bare number is seconds); at least 1 s."""
    seconds = parse_duration(text, "--window")
    if seconds < 1:
        raise Terminal(f"--window {text!r} is shorter than a second",
                       hint="use e.g. 30m, 12h or 7d")
    return int(seconds)


def condition(step: Step, i: int) -> str:
    return f"{step.column} = {{s{i}:String}}"


def funnel_query(steps: list[Step]) -> tuple[str, dict[str, Any]]:
    """The levels query with one condition per step, and its parameters (without the window)."""
    conditions = [condition(step, i) for i, step in enumerate(steps)]
    text = (sql("levels").replace("/*STEPS*/", ", ".join(conditions))
            .replace("/*FIRST*/", conditions[0])
            .replace("/*ANY*/", " OR ".join(conditions)))
    return text, {f"s{i}": step.value for i, step in enumerate(steps)}


def step_counts(steps: list[Step], levels: dict[int, int]) -> list[StepCount]:
    """levels: funnel level -> persons. Reached step i = persons with level >= i."""
    reached = [sum(n for level, n in levels.items() if level >= i)
               for i in range(1, len(steps) + 1)]
    counts = []
    for i, (step, persons) in enumerate(zip(steps, reached, strict=True)):
        previous = reached[i - 1] if i else None
        counts.append(StepCount(
            step, persons,
            None if not previous else 100.0 * persons / previous,
            None if not reached[0] else 100.0 * persons / reached[0],
        ))
    return counts


def funnel(client: Any, steps: list[Step], window_s: int, by_channel: bool = False) -> Funnel:
    if len(steps) < 2:
        raise Terminal("a funnel needs at least 2 steps", hint="pass two or more STEP arguments")
    text, parameters = funnel_query(steps)
    rows = query_rows(client, text, {**parameters, "window_ms": window_s * 1000})
    overall: dict[int, int] = defaultdict(int)
    per_channel: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for channel, level, persons in rows:
        overall[int(level)] += int(persons)
        per_channel[str(channel)][int(level)] += int(persons)
    channels = {}
    if by_channel:
        first = {c: sum(levels.values()) for c, levels in per_channel.items()}
        for channel in sorted(per_channel, key=lambda c: (-first[c], c)):
            channels[channel] = step_counts(steps, per_channel[channel])
    counts = step_counts(steps, overall)
    never = [step for i, (step, count) in enumerate(zip(steps, counts, strict=True))
             if count.persons == 0 and not query_rows(client, sql("seen").replace("/*STEP*/", condition(step, i)),
                                                      {f"s{i}": step.value})[0][0]]
    return Funnel(steps, window_s, counts, channels, never)


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}%"


def _table(counts: list[StepCount]) -> list[str]:
    width = max(4, *(len(c.step.label) for c in counts))
    lines = [f"   #  {'step':<{width}}  {'persons':>10}  {'from prev':>9}  {'from first':>10}"]
    lines += [f"  {i:>2}  {c.step.label:<{width}}  {c.persons:>10,}  {_percent(c.from_previous):>9}"
              f"  {_percent(c.from_first):>10}" for i, c in enumerate(counts, 1)]
    return lines


def render(result: Funnel) -> str:
    lines = [f"funnel over {len(result.steps)} steps, window {_duration(result.window_s)} "
             "(persons who did the steps in this order)"]
    lines += _table(result.overall)
    for step in result.never_done:
        lines.append(f"no event matches the step {step.label!r}: check the name "
                     f"(`parcours sql \"SELECT DISTINCT {step.column} FROM parcours.v_events\"`)")
    for channel, counts in result.by_channel.items():
        lines.append("")
        lines.append(f"entry channel {channel or '(none)'}")
        lines += _table(counts)
    return "\n".join(lines)


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
