"""events_current (0023): one row per event_id, the version ingested last, whatever key (day of
occurred_at, event_type) it was written under; ties go to the later day, then the greater type.
The KPI rollup restated for both versions' days counts the event once, under its latest version."""

from __future__ import annotations

from datetime import date
from typing import Any

from jobs import rollup
from tests.conftest import empty


def insert(client: Any, rows: list[tuple[str, str, str, str, int]]) -> None:
    """(event_id, occurred_at, event_type, touchpoint, ingested_at ms)"""
    values = ", ".join(f"('{e}', '{t}', 'a', 's-{e}', '{kind}', 'web', '{tp}', 'consideration', "
                       f"fromUnixTimestamp64Milli({at}))" for e, t, kind, tp, at in rows)
    client.command("INSERT INTO parcours.events (event_id, occurred_at, anchor_id, session_id, event_type, "
                   f"channel, touchpoint, stage, ingested_at) VALUES {values}")


def current(client: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in client.query("SELECT event_id, toString(occurred_at), toString(event_type), "
                                           "toString(touchpoint) FROM parcours.events_current "
                                           "ORDER BY event_id").result_rows]


def test_the_version_ingested_last_is_the_event(clickhouse: Any) -> None:
    empty(clickhouse)
    insert(clickhouse, [("day", "2026-10-05 10:00:00", "page_view", "home", 1_000),
                        ("type", "2026-10-05 10:00:00", "checkout", "cart", 1_000),
                        ("month", "2026-10-31 23:50:00", "page_view", "home", 1_000),
                        ("same", "2026-10-05 10:00:00", "page_view", "home", 1_000),
                        ("back", "2026-10-05 10:00:00", "page_view", "home", 3_000),
                        ("tie", "2026-10-05 10:00:00", "page_view", "home", 1_000)])
    insert(clickhouse, [("day", "2026-10-04 23:59:00", "page_view", "landing", 2_000),
                        ("type", "2026-10-05 10:00:00", "purchase", "cart", 2_000),
                        ("month", "2026-11-01 00:00:00", "page_view", "home", 2_000),
                        ("same", "2026-10-05 10:00:00", "page_view", "home", 2_000),
                        ("back", "2026-10-06 10:00:00", "page_view", "late", 2_000),  # older write
                        ("tie", "2026-10-04 10:00:00", "page_view", "early", 1_000)])
    assert current(clickhouse) == [
        ("back", "2026-10-05 10:00:00.000", "page_view", "home"),
        ("day", "2026-10-04 23:59:00.000", "page_view", "landing"),
        ("month", "2026-11-01 00:00:00.000", "page_view", "home"),
        ("same", "2026-10-05 10:00:00.000", "page_view", "home"),
        ("tie", "2026-10-05 10:00:00.000", "page_view", "home"),  # the later day
        ("type", "2026-10-05 10:00:00.000", "purchase", "cart"),
    ]
    assert clickhouse.query("SELECT count() FROM parcours.v_events").result_rows[0][0] == 6
    # rows as written: every key, both writes of `same` until a merge
    assert clickhouse.query("SELECT uniqExact(event_id, toDate(occurred_at), event_type) "
                            "FROM parcours.v_event_writes").result_rows[0][0] == 11


def test_a_restated_rollup_counts_the_latest_version_once(clickhouse: Any) -> None:
    empty(clickhouse)
    clickhouse.command("TRUNCATE TABLE parcours.kpi_daily_state")
    insert(clickhouse, [("r1", "2026-10-05 10:00:00", "page_view", "home", 1_000)])
    insert(clickhouse, [("r1", "2026-10-04 23:59:00", "page_view", "landing", 2_000)])
    kpi = ("SELECT toString(day), touchpoint, events FROM parcours.v_kpi_daily WHERE events > 0 "
           "ORDER BY day, touchpoint")
    assert [tuple(r) for r in clickhouse.query(kpi).result_rows] == [("2026-10-04", "landing", 1),
                                                                   ("2026-10-05", "home", 1)]
    rollup.restate(clickhouse, {date(2026, 10, 4), date(2026, 10, 5)})
    assert [tuple(r) for r in clickhouse.query(kpi).result_rows] == [("2026-10-04", "landing", 1)]
