"""Markov attribution on journeys small enough to solve by hand."""

from __future__ import annotations

import polars as pl
import pytest

from jobs.attribution import (
    CONVERSION,
    NULL,
    START,
    conversion_probability,
    markov_credits,
    removal_effects,
    solve,
    transitions,
)


def paths(*journeys: tuple[list[str], bool]) -> pl.DataFrame:
    return pl.DataFrame({"path": [p for p, _ in journeys], "converted": [c for _, c in journeys]})


def touches(conversion: str, channels: list[str], revenue: float = 10.0) -> pl.DataFrame:
    return pl.DataFrame({"conversion_id": conversion, "person_id": "p", "revenue": revenue,
                         "position": list(range(1, len(channels) + 1)),
                         "touchpoint": [f"{c}_tp" for c in channels], "channel": channels})


def test_solve() -> None:
    assert solve([[2.0, 1.0], [1.0, 3.0]], [3.0, 5.0]) == pytest.approx([0.8, 1.4])
    assert solve([[0.0, 1.0], [1.0, 0.0]], [2.0, 3.0]) == pytest.approx([3.0, 2.0])  # needs a pivot


def test_hand_solved_chain() -> None:
    # start -> A (2/3), B (1/3); A -> B (1/2), null (1/2); B -> conversion
    journeys = paths((["A", "B"], True), (["A"], False), (["B"], True))
    counts = transitions(journeys)
    assert counts == {START: {"A": 2, "B": 1}, "A": {"B": 1, NULL: 1}, "B": {CONVERSION: 2}}
    assert conversion_probability(counts) == pytest.approx(2 / 3)
    assert conversion_probability(counts, "A") == pytest.approx(1 / 3)
    assert conversion_probability(counts, "B") == 0.0
    assert removal_effects(journeys) == pytest.approx({"B": 1.0, "A": 0.5})
    credits = markov_credits(touches("c", ["A", "B"]), removal_effects(journeys))
    shares = dict(credits.select("channel", "credit").iter_rows())
    assert shares == pytest.approx({"A": 1 / 3, "B": 2 / 3})
    assert credits["revenue_credit"].sum() == pytest.approx(10.0)


def test_a_channel_only_on_lost_journeys_gets_nothing() -> None:
    # X -> B -> conversion is possible in the chain (B converts elsewhere), but no converting
    # journey ever went through X
    journeys = paths((["X", "B"], False), (["B"], True))
    effects = removal_effects(journeys)
    assert effects["X"] == 0.0 and effects["B"] == 1.0


def test_repeated_channel_splits_its_share_over_its_touches() -> None:
    credits = markov_credits(touches("c", ["A", "B", "A"]), {"A": 0.6, "B": 0.2})
    by_touch = {(t, c): v for _, _, t, c, v, _ in credits.iter_rows()}
    assert by_touch == pytest.approx({("A_tp", "A"): 0.75, ("B_tp", "B"): 0.25})


def test_all_zero_effects_split_equally_over_channels() -> None:
    credits = markov_credits(touches("c", ["A", "B", "B"]), {})
    shares = dict(credits.select("channel", "credit").iter_rows())
    assert shares == pytest.approx({"A": 0.5, "B": 0.5})


def test_no_journeys() -> None:
    empty = pl.DataFrame(schema={"path": pl.List(pl.String), "converted": pl.Boolean})
    assert removal_effects(empty) == {}
