"""Markov attribution on arbitrary journeys (pure, no ClickHouse): removal effects lie in
[0, 1], a channel never on a converting path gets 0, and every conversion's credits sum to 1
(its revenue credits to its revenue), whatever the paths."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.attribution import markov_credits, removal_effects

Journey = tuple[list[str], bool, float]  # channels, converted, revenue
CHANNELS = ["web", "app", "email", "ads", "store", "chat"]

journeys = st.lists(
    st.tuples(st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=8), st.booleans(),
              st.sampled_from([0.0, 9.5, 120.0])),
    min_size=1, max_size=25)


def frames(data: list[Journey]) -> tuple[pl.DataFrame, pl.DataFrame]:
    paths = pl.DataFrame({"path": [p for p, _, _ in data], "converted": [c for _, c, _ in data]},
                         schema={"path": pl.List(pl.String), "converted": pl.Boolean})
    touches = pl.DataFrame(
        [{"conversion_id": f"c{k}", "person_id": f"p{k}", "revenue": revenue, "position": i + 1,
          "touchpoint": f"{channel}_tp{i % 2}", "channel": channel}
         for k, (path, converted, revenue) in enumerate(data) if converted
         for i, channel in enumerate(path)],
        schema={"conversion_id": pl.String, "person_id": pl.String, "revenue": pl.Float64,
                "position": pl.Int64, "touchpoint": pl.String, "channel": pl.String})
    return paths, touches


@settings(max_examples=200, deadline=None)
@given(journeys)
def test_effects_are_bounded_and_zero_off_converting_paths(data: list[Journey]) -> None:
    paths, _ = frames(data)
    effects = removal_effects(paths)
    assert set(effects) == {c for path, _, _ in data for c in path}
    converting = {c for path, converted, _ in data if converted for c in path}
    for channel, effect in effects.items():
        assert 0.0 <= effect <= 1.0
        if channel not in converting:
            assert effect == 0.0
    if all(converted for _, converted, _ in data):
        # nothing is lost but through a removed channel: removing a journey's first channel
        # loses at least P(start -> it) >= 1/len(data)
        assert all(effects[path[0]] >= 1 / len(data) - 1e-12 for path, _, _ in data)


@settings(max_examples=200, deadline=None)
@given(journeys)
def test_credits_of_each_conversion_sum_to_one(data: list[Journey]) -> None:
    paths, touches = frames(data)
    credits = markov_credits(touches, removal_effects(paths))
    sums = credits.group_by("conversion_id").agg(pl.col("credit", "revenue_credit").sum())
    revenue = dict(touches.group_by("conversion_id").agg(pl.col("revenue").first()).iter_rows())
    assert sums.height == len(revenue)
    for conversion, credit, revenue_credit in sums.iter_rows():
        assert abs(credit - 1.0) < 1e-9
        assert abs(revenue_credit - revenue[conversion]) < 1e-6
    assert (credits["credit"] >= 0.0).all()
