"""v_kpi_daily's conversion rate is the share of sessions that converted (0016): a session that
buys twice is one converting session, and the rate never passes 1. Installs that had the rollup
before get the new state from the conversion events already written."""

from __future__ import annotations

from typing import Any

from pipeline.sink.migrations import MIGRATIONS_DIR, split_statements
from tests.conftest import empty

EVENTS = [  # two purchases in one session, a look in another, at the same desk that day
    ("k1", "2026-11-03 10:00:00", "s1", "purchase", 40.0),
    ("k2", "2026-11-03 10:05:00", "s1", "purchase", 60.0),
    ("k3", "2026-11-03 15:00:00", "s2", "product_view", 0.0),
]


def desk(client: Any) -> dict[str, Any]:
    result = client.query("SELECT sessions, conversions, converting_sessions, conversion_rate, revenue "
                          "FROM parcours.v_kpi_daily WHERE touchpoint = 'kpi_desk'")
    (row,) = result.result_rows
    return dict(zip(result.column_names, row, strict=True))


def test_a_session_that_buys_twice_converts_once(clickhouse: Any) -> None:
    empty(clickhouse)
    values = ", ".join(f"('{e}', '{t}', '{s}', '{kind}', 'store', 'kpi_desk', 'purchase', {revenue})"
                       for e, t, s, kind, revenue in EVENTS)
    clickhouse.command("INSERT INTO parcours.events (event_id, occurred_at, session_id, event_type, channel, "
                       f"touchpoint, stage, revenue) VALUES {values}")
    assert desk(clickhouse) == {"sessions": 2, "conversions": 2, "converting_sessions": 1,
                                "conversion_rate": 0.5, "revenue": 100.0}
    # an install migrated before 0016: its rows lack the state until the backfill, run twice
    clickhouse.command("ALTER TABLE parcours.kpi_daily_state UPDATE converting_sessions_state = "
                       "(SELECT uniqExactStateIf('', 0)) WHERE 1 SETTINGS mutations_sync = 2")
    assert desk(clickhouse)["converting_sessions"] == 0
    backfill = next(s for s in split_statements((MIGRATIONS_DIR / "0016_kpi_conversion_rate.sql").read_text())
                    if s.startswith("INSERT INTO parcours.kpi_daily_state"))
    clickhouse.command(backfill)
    clickhouse.command(backfill)
    assert desk(clickhouse)["conversion_rate"] == 0.5
