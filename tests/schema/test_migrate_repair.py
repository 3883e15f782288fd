"""`parcours migrate` re-creates what its migrations made and someone dropped (`parcours sql
"DROP VIEW parcours.v_events"`): the ledger says every migration ran, so only a check of what
exists can tell. Every statement is idempotent, so they all run again."""

from __future__ import annotations

from typing import Any

from pipeline.sink.migrations import created_objects, migrate, missing_objects


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
