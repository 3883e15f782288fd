"""jobs/rollup.py: the KPI rollup's days restated from the current facts. A session re-cut
after the sink rolled it up (a merge, `parcours resessionize`, a re-run replay naming its
sessions afresh) left its old id in the day's set and counted twice; once restated, the day
counts each current session once, and nothing else in the row changes."""

from __future__ import annotations

from datetime import date
from typing import Any

from jobs import rollup
from tests.conftest import empty

DAY, OTHER = date(2026, 11, 3), date(2026, 11, 4)
COLUMNS = "day, touchpoint, events, sessions, conversions, converting_sessions, revenue, csat_avg, nps, visitors"


def insert(client: Any, rows: list[tuple[str, str, str, str, float, int]]) -> None:
    """(event_id, occurred_at, session_id, event_type, revenue, ingested_at ms)"""
    values = ", ".join(f"('{e}', '{t}', 'a-{e}', '{s}', '{kind}', 'store', 'kpi_desk', 'purchase', {revenue}, "
                       f"4, 9, fromUnixTimestamp64Milli({at}))" for e, t, s, kind, revenue, at in rows)
    client.command("INSERT INTO parcours.events (event_id, occurred_at, anchor_id, session_id, event_type, "
                   f"channel, touchpoint, stage, revenue, csat, nps, ingested_at) VALUES {values}")


def kpi(client: Any) -> list[tuple[Any, ...]]:
    return client.query(f"SELECT {COLUMNS} FROM parcours.v_kpi_daily WHERE touchpoint = 'kpi_desk' "
                        "ORDER BY day").result_rows


def test_a_day_restated_counts_each_current_session_once(clickhouse: Any) -> None:
    empty(clickhouse)
    first = [("r1", "2026-11-03 10:00:00", "s1", "product_view", 0.0, 1_000),
             ("r2", "2026-11-03 10:05:00", "s1", "purchase", 40.0, 1_000),
             ("r3", "2026-11-03 10:20:00", "s2", "product_view", 0.0, 1_000),
             ("r4", "2026-11-04 09:00:00", "s3", "purchase", 10.0, 1_000)]
    insert(clickhouse, first)
    before = kpi(clickhouse)
    assert [row[3] for row in before] == [2, 1]
    # A re-run names the sessions of the first day afresh (t1), and the re-sessionization puts
    # r3 into the same session as the others: one session that day.
    insert(clickhouse, [(e, t, "t1", kind, revenue, 2_000) for e, t, _, kind, revenue, _ in first[:3]])
    clickhouse.command("INSERT INTO parcours.event_sessions (event_id, session_id, version) VALUES ('r3', 't1', 5)")
    assert [row[3] for row in kpi(clickhouse)] == [3, 1]  # s1, s2 and t1: counted again
    assert rollup.ingested_days(clickhouse, 2_000) == {DAY}

    assert rollup.restate(clickhouse, {DAY}) > 0
    after = kpi(clickhouse)
    assert [row[3] for row in after] == [1, 1]
    assert [row[5] for row in after] == [1, 1]  # converting sessions
    assert [row[:3] + row[4:5] + row[6:] for row in after] == [row[:3] + row[4:5] + row[6:] for row in before]
    assert rollup.restate(clickhouse, {DAY}) > 0 and kpi(clickhouse) == after  # idempotent
    assert rollup.restate(clickhouse, set()) == 0


def test_rows_written_again_after_a_restatement_count_their_current_session(clickhouse: Any) -> None:
    """A retried batch or a re-inserted backup, after the day was restated: the rows still
    name the sessions they were written with, since merged (session_merges) or re-cut
    (event_sessions); the rollup counts the session each event is in now, so nothing moves."""
    empty(clickhouse)
    rows = [("w1", "2026-11-03 10:00:00", "s1", "product_view", 0.0, 1_000),
            ("w2", "2026-11-03 10:05:00", "s2", "purchase", 40.0, 1_000),
            ("w3", "2026-11-03 11:00:00", "s3", "product_view", 0.0, 1_000),
            ("w4", "2026-11-03 11:10:00", "s4", "purchase", 15.0, 1_000)]
    insert(clickhouse, rows)
    assert [row[3] for row in kpi(clickhouse)] == [4]
    clickhouse.command("INSERT INTO parcours.session_merges (from_session, to_session, to_order, merged_at) "
                       "VALUES ('s1', 's2', 'b', '2026-11-03 10:06:00')")
    clickhouse.command("INSERT INTO parcours.event_sessions (event_id, session_id, version) "
                       "VALUES ('w3', 'r1', 1), ('w4', 'r1', 1)")
    rollup.restate(clickhouse, {DAY})
    restated = kpi(clickhouse)
    assert [(row[3], row[5]) for row in restated] == [(2, 2)]  # s2 and r1, both converting
    insert(clickhouse, rows)
    assert kpi(clickhouse) == restated
