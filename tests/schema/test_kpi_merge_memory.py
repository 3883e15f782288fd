"""The KPI rollup merges a few rows at a time (0007, 0015): its rows hold sets of ids, and a
merge of 8 192-row blocks held every state of its parts at once (~300 MB for 1 M events)."""

from __future__ import annotations

import re
from typing import Any

from pipeline.sink.migrations import MIGRATIONS_DIR, split_statements

TABLE = "parcours.kpi_daily_state"
BEFORE = "parcours.kpi_daily_state_before"
"""A copy created as 0007 created the table before it had SETTINGS."""


def table_settings(client: Any, table: str) -> dict[str, str]:
    create = client.query(f"SHOW CREATE TABLE {table}").result_rows[0][0]
    return dict(re.findall(r"(\w+) = (\w+)", create.split("SETTINGS", 1)[1]))


def test_a_new_install_reads_and_writes_the_rollup_8_rows_at_a_time(clickhouse: Any) -> None:
    settings = table_settings(clickhouse, TABLE)
    assert settings["index_granularity"] == "8"
    assert settings["merge_max_block_size"] == "8"


def test_an_install_created_before_gains_the_bound_on_its_merges(clickhouse: Any) -> None:
    """Created by the 0007 of before (no SETTINGS), then migrated by 0015."""
    old = [s for s in split_statements((MIGRATIONS_DIR / "0007_kpi_rollups.sql").read_text())
           if s.startswith(f"CREATE TABLE IF NOT EXISTS {TABLE}")][0]
    old = old.replace(TABLE, BEFORE).split("\nSETTINGS")[0]
    clickhouse.command(f"DROP TABLE IF EXISTS {BEFORE}")
    clickhouse.command(old)
    try:
        assert "merge_max_block_size" not in table_settings(clickhouse, BEFORE)
        for statement in split_statements((MIGRATIONS_DIR / "0015_kpi_merge_memory.sql").read_text()):
            clickhouse.command(statement.replace(TABLE, BEFORE))
        assert table_settings(clickhouse, BEFORE)["merge_max_block_size"] == "8"
    finally:
        clickhouse.command(f"DROP TABLE IF EXISTS {BEFORE}")
