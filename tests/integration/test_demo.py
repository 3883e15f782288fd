"""`parcours demo`: simulated journeys through the whole pipeline, a summary and a report."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import query, run_cli

pytestmark = pytest.mark.integration


def test_demo_prints_a_journey_summary_and_writes_the_report(data_dir: Path) -> None:
    done = run_cli(["demo", "--persons", "150", "--seed", "5"], data_dir)
    assert done.returncode == 0, done.stderr[-3000:]
    for heading in ("journey summary", "events", "persons", "sessions", "conversions", "revenue",
                    "dead letters", "Top touchpoints", "Channels", "HTML report"):
        assert heading in done.stdout, heading
    report = data_dir / "report.html"
    html = report.read_text()
    assert "<svg" in html and "https://" not in html
    (row,) = query(data_dir, "SELECT count() AS n FROM parcours.v_events")
    assert f"{row['n']:,}" in done.stdout


def test_sql_and_migrate_commands(data_dir: Path) -> None:
    first = run_cli(["migrate"], data_dir)
    assert first.returncode == 0 and "applied 0001_core_tables" in first.stdout
    again = run_cli(["migrate"], data_dir)
    assert again.returncode == 0 and "schema up to date" in again.stdout
    table = run_cli(["sql", "SELECT version, name FROM parcours.schema_migrations FINAL ORDER BY version"], data_dir)
    from pipeline.sink.migrations import discover

    assert "core_tables" in table.stdout and f"({len(discover())} rows)" in table.stdout
    bad = run_cli(["sql", "SELECT * FROM parcours.nope"], data_dir)
    assert bad.returncode == 2 and "run `parcours migrate`" in bad.stderr
