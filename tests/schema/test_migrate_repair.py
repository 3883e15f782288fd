"""`parcours migrate` re-creates what its migrations made and someone dropped (`parcours sql
"DROP VIEW parcours.v_events"`): the ledger says every migration ran, so only a check of what
exists can tell. Every statement is idempotent, so they all run again."""

from __future__ import annotations

from datetime import date
from typing import Any

from jobs import rollup
from pipeline.sink.migrations import created_objects, migrate, missing_objects
from tests.conftest import empty


def test_what_the_migrations_leave_behind_is_known() -> None:
    objects = created_objects()
    assert {"events", "v_events", "v_sessions", "v_identities", "v_attribution", "dead_letters",
            "kpi_daily_mv", "schema_migrations"} <= objects


def test_a_dropped_view_and_table_are_re_created(clickhouse: Any) -> None:
    migrate(clickhouse)
    assert missing_objects(clickhouse) == []
    clickhouse.command("DROP VIEW parcours.v_events")
    clickhouse.command("DROP VIEW parcours.kpi_daily_mv")
    clickhouse.command("DROP TABLE parcours.replay_runs")
    assert missing_objects(clickhouse) == ["kpi_daily_mv", "replay_runs", "v_events"]
    migrate(clickhouse)
    assert missing_objects(clickhouse) == []
    clickhouse.query("SELECT count() FROM parcours.v_events")  # readable again


def test_a_repair_does_not_backfill_again(clickhouse: Any) -> None:
    """0016's INSERT backfills converting sessions from the ids first written: run again after
    a re-cut, it would count each converting session twice (an audit saw rates of 2.0)."""
    empty(clickhouse)
    clickhouse.command("INSERT INTO parcours.events (event_id, occurred_at, session_id, event_type, channel, "
                       "touchpoint, stage) VALUES ('m1', '2026-11-03 10:00:00', 's1', 'purchase', 'store', "
                       "'repair_desk', 'purchase')")
    clickhouse.command("INSERT INTO parcours.event_sessions (event_id, session_id, version) VALUES ('m1', 'r1', 1)")
    rollup.restate(clickhouse, {date(2026, 11, 3)})
    converting = "SELECT converting_sessions FROM parcours.v_kpi_daily WHERE touchpoint = 'repair_desk'"
    assert clickhouse.query(converting).result_rows == [(1,)]
    clickhouse.command("DROP VIEW parcours.v_sessions")
    migrate(clickhouse)
    assert clickhouse.query(converting).result_rows == [(1,)]
