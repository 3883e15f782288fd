"""The sessions `parcours up` restores from ClickHouse (pipeline/profiles/sql/open_sessions.sql)
come back with the ids merged into them, so a merge after the restart remaps those too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pipeline.profiles.history import open_sessions
from tests.conftest import empty

pytestmark = pytest.mark.integration

EVENT_COLUMNS = ["event_id", "occurred_at", "person_id", "anchor_id", "session_id", "event_type", "channel",
                 "touchpoint", "stage", "revenue", "currency", "order_id", "csat", "nps", "identifiers",
                 "properties", "context", "ingested_at"]
SESSION_COLUMNS = ["session_id", "person_id", "started_at", "ended_at", "event_count", "channels",
                   "entry_touchpoint", "exit_touchpoint", "converted", "revenue", "version"]


def test_a_restored_session_knows_the_sessions_merged_into_it(clickhouse: Any) -> None:
    empty(clickhouse)
    t = datetime(2026, 11, 3, 10, tzinfo=UTC)
    clickhouse.insert("parcours.events", [
        [event_id, t + timedelta(minutes=m), "p", "p", session, "page_view", "web", "home", "awareness", 0.0,
         "", "", None, None, {"user_id": "u"}, "{}", "{}", t]
        for event_id, m, session in (("e1", 0, "sA"), ("e2", 10, "sB"), ("e3", 20, "sB"))
    ], column_names=EVENT_COLUMNS)
    clickhouse.insert("parcours.sessions", [
        ["sA", "p", t, t, 1, ["web"], "home", "home", 0, 0.0, 1],
        ["sB", "p", t, t + timedelta(minutes=20), 3, ["web"], "home", "home", 0, 0.0, 2],
    ], column_names=SESSION_COLUMNS)
    clickhouse.insert("parcours.session_merges", [["sA", "sB", "000:sB", t]],
                      column_names=["from_session", "to_session", "to_order", "merged_at"])
    (restored,) = open_sessions(clickhouse, 3600_000, frozenset())["p"]
    assert restored.session_id == "sB" and sorted(restored.event_ids) == ["e1", "e2", "e3"]
    assert restored.absorbed == ["sA"]  # was []: a merge of sB after the restart left e1 on sA, hidden


def test_one_fast_device_clock_does_not_close_every_other_session(clickhouse: Any) -> None:
    empty(clickhouse)
    now = datetime.now(UTC).replace(microsecond=0)
    rows = [("n1", now - timedelta(minutes=10), "pN", "sN"), ("f1", now + timedelta(hours=20), "pF", "sF")]
    clickhouse.insert("parcours.events", [
        [event_id, at, person, person, session, "page_view", "app", "home", "awareness", 0.0,
         "", "", None, None, {"device_id": person}, "{}", "{}", now]
        for event_id, at, person, session in rows
    ], column_names=EVENT_COLUMNS)
    clickhouse.insert("parcours.sessions", [[session, person, at, at, 1, ["app"], "home", "home", 0, 0.0, 1]
                                            for _, at, person, session in rows], column_names=SESSION_COLUMNS)
    restored = open_sessions(clickhouse, 3600_000, frozenset())
    assert "pN" in restored  # was not: 20 h before the newest event, outside the horizon


def test_a_long_session_comes_back_with_all_its_events_counted(clickhouse: Any) -> None:
    """Only its recent events' ids come back (to count one delivered again once), but its
    count is the row's: an event every 20 minutes for 8 hours is one session of 25."""
    empty(clickhouse)
    t = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=9)
    clickhouse.insert("parcours.events", [
        [f"l{i}", t + timedelta(minutes=20 * i), "p", "p", "sL", "page_view", "web", "home", "awareness", 0.0,
         "", "", None, None, {"user_id": "u"}, "{}", "{}", t]
        for i in range(25)
    ], column_names=EVENT_COLUMNS)
    clickhouse.insert("parcours.sessions", [["sL", "p", t, t + timedelta(hours=8), 25, ["web"], "home", "home", 0,
                                             0.0, 1]], column_names=SESSION_COLUMNS)
    (restored,) = open_sessions(clickhouse, 3600_000, frozenset())["p"]
    assert restored.event_count == 25 and len(restored.event_ids) == 4  # was 4 and 4
