"""0026: an event whose session was re-cut (event_sessions, `parcours resessionize` or a
replay's clean-up) follows session_merges from there, as a streaming session does: `up` restores
re-cut sessions, and a live event that bridges one with another merges it away. Its older
events pointed at the re-cut id, which v_sessions hides; the KPI rollup (0025) agrees."""

from __future__ import annotations

from datetime import date
from typing import Any

from jobs import resessionize, rollup
from tests.conftest import empty


def test_events_of_a_recut_session_merged_live_are_in_the_session_it_went_into(clickhouse: Any) -> None:
    empty(clickhouse)
    events = [("b1", "2026-11-03 10:00:00", "s1"), ("b2", "2026-11-03 10:20:00", "s1"),
              ("b3", "2026-11-03 11:05:00", "s3"), ("b4", "2026-11-03 10:40:00", "s4")]
    values = ", ".join(f"('{e}', '{t}', 'p', 'p', '{s}', 'page_view', 'web', 'home', 'awareness')" for e, t, s in events)
    clickhouse.command("INSERT INTO parcours.events (event_id, occurred_at, person_id, anchor_id, session_id, "
                       f"event_type, channel, touchpoint, stage) VALUES {values}")
    # the replay's clean-up re-cut b1, b2 into r1; `up` restored r1, then the live b4 bridged r1
    # and s3, and the live stage kept s3 (b4 written with s4, merged into s3 as well)
    clickhouse.command("INSERT INTO parcours.event_sessions (event_id, session_id, version) "
                       "VALUES ('b1', 'r1', 1), ('b2', 'r1', 1)")
    clickhouse.command("INSERT INTO parcours.sessions (session_id, person_id, started_at, ended_at, event_count, "
                       "channels, version) VALUES ('r1', 'p', '2026-11-03 10:00:00', '2026-11-03 10:20:00', 2, "
                       "['web'], 1), ('s3', 'p', '2026-11-03 10:00:00', '2026-11-03 11:05:00', 4, ['web'], 3)")
    clickhouse.command("INSERT INTO parcours.session_merges (from_session, to_session, to_order, merged_at) VALUES "
                       "('r1', 's3', 'x', '2026-11-03 11:06:00'), ('s4', 's3', 'x', '2026-11-03 11:06:00')")
    sessions = dict(clickhouse.query("SELECT event_id, session_id FROM parcours.v_events").result_rows)
    assert sessions == {"b1": "s3", "b2": "s3", "b3": "s3", "b4": "s3"}  # b1, b2 were on r1, hidden
    assert clickhouse.query("SELECT session_id, event_count FROM parcours.v_sessions").result_rows == [("s3", 4)]
    rollup.restate(clickhouse, {date(2026, 11, 3)})
    kpi = "SELECT sum(sessions) FROM parcours.v_kpi_daily"
    assert clickhouse.query(kpi).result_rows == [(1,)]
    clickhouse.command("INSERT INTO parcours.events (event_id, occurred_at, person_id, anchor_id, session_id, "
                       f"event_type, channel, touchpoint, stage) VALUES {values}")  # written again
    assert clickhouse.query(kpi).result_rows == [(1,)]


def test_resessionize_never_names_a_session_with_an_id_a_live_merge_retired(clickhouse: Any) -> None:
    """The re-cut ids are a hash of (person, first event): re-cut again after a live merge
    retired one, the same session got the same id, and v_sessions hid it for good."""
    empty(clickhouse)

    def insert(rows: list[tuple[str, str, str]]) -> None:
        values = ", ".join(f"('{e}', '{t}', 'p', 'p', '{s}', 'page_view', 'web', 'home', 'awareness')"
                           for e, t, s in rows)
        clickhouse.command("INSERT INTO parcours.events (event_id, occurred_at, person_id, anchor_id, session_id, "
                           f"event_type, channel, touchpoint, stage) VALUES {values}")

    insert([("y1", "2026-11-03 10:00:00", "sy"), ("y2", "2026-11-03 10:10:00", "sy")])
    resessionize.run(clickhouse, 1800.0, everyone=True)
    (recut,) = {row[0] for row in clickhouse.query("SELECT session_id FROM parcours.v_events").result_rows}
    # `up` restored it; a live event went into another session, which took it over
    insert([("y3", "2026-11-03 10:20:00", "sz")])
    clickhouse.command("INSERT INTO parcours.session_merges (from_session, to_session, to_order, merged_at) "
                       f"VALUES ('{recut}', 'sz', 'x', '2026-11-03 10:21:00')")
    clickhouse.command("INSERT INTO parcours.sessions (session_id, person_id, started_at, ended_at, event_count, "
                       "channels, version) VALUES ('sz', 'p', '2026-11-03 10:00:00', '2026-11-03 10:20:00', 3, "
                       "['web'], 9)")
    resessionize.run(clickhouse, 1800.0, everyone=True)
    named = {row[0] for row in clickhouse.query("SELECT session_id FROM parcours.v_events").result_rows}
    shown = clickhouse.query("SELECT session_id, event_count FROM parcours.v_sessions").result_rows
    assert len(named) == 1 and shown == [(named.pop(), 3)]  # was: no row, the id retired
    resessionize.run(clickhouse, 1800.0, everyone=True)  # and again: nothing moves
    assert clickhouse.query("SELECT session_id, event_count FROM parcours.v_sessions").result_rows == shown
