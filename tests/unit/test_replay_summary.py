"""The summary `parcours replay` prints (jobs/replay.py: ReplayResult.render)."""

from __future__ import annotations

from jobs.replay import ReplayResult


def test_rates_count_what_they_name_and_totals_say_they_are_totals() -> None:
    result = ReplayResult("r1", lines=1000, rejected=200, duplicates=0, seconds=2.0,
                          persons=70, sessions=90, events_in_clickhouse=5000)
    head, accepted, rejected, totals = result.render().splitlines()
    assert "500 lines/s" in head and "400 accepted events/s" in head  # rejected lines are no events
    assert accepted.split()[:2] == ["accepted", "800"] and rejected.split()[:2] == ["rejected", "200"]
    # persons and sessions of the whole database, earlier replays included: not this replay's
    assert totals.strip().startswith("totals in ClickHouse") and "70 persons, 90 sessions" in totals
