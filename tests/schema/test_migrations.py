"""Migrations: unique numbered prefixes, idempotent statements, tables match the Arrow layouts
the sink writes, and a schema snapshot of the views BI tools rely on."""

from __future__ import annotations

import re

from pipeline.facts.tables import TABLES
from pipeline.sink.migrations import MIGRATIONS_DIR, discover, split_statements


def test_migration_files_have_unique_increasing_prefixes() -> None:
    versions = [m.version for m in discover()]
    assert versions == sorted(set(versions)) and versions[0] == 1


def test_every_statement_is_idempotent() -> None:
    for migration in discover():
        for statement in migration.statements():
            head = " ".join(statement.split()[:6]).upper()
            if head.startswith("GRANT ") or head.startswith("DROP VIEW IF EXISTS "):
                continue  # granting what is already granted, dropping what is gone: no-ops
            if head.startswith("INSERT INTO PARCOURS.KPI_DAILY_STATE "):
                continue  # its states are sets (0007): inserting the same rows again changes nothing
            if head.startswith("ALTER TABLE "):  # each action adds if missing or states the result
                actions = re.split(r",\s*(?=ADD|MODIFY|DROP)", " ".join(statement.split()[3:]).upper())
                unsafe = [a for a in actions if not a.startswith(("ADD COLUMN IF NOT EXISTS", "MODIFY "))]
                assert not unsafe, (migration.name, unsafe)
                continue
            assert "IF NOT EXISTS" in head or "OR REPLACE" in head, (migration.name, head)


def test_order_by_and_partition_by_are_explained_in_a_comment() -> None:
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        for chunk in re.split(r";\s*$", path.read_text(), flags=re.MULTILINE):
            comments = [line for line in chunk.splitlines() if line.strip().startswith("--")]
            for clause in ("ORDER BY", "PARTITION BY"):
                if "CREATE TABLE" in chunk and f"\n{clause}" in chunk:
                    assert any(clause in c for c in comments), (path.name, clause, chunk[:80])


def test_fact_tables_have_exactly_the_columns_the_sink_writes() -> None:
    text = "\n".join(p.read_text() for p in sorted(MIGRATIONS_DIR.glob("*.sql")))
    for table, schema in TABLES.items():
        body = re.search(rf"CREATE TABLE IF NOT EXISTS parcours\.{table}\s*\((.*?)\n\)", text, re.S)
        assert body, table
        columns = [line.split()[0] for line in body.group(1).splitlines() if line.strip()]
        columns += re.findall(rf"ALTER TABLE parcours\.{table} ADD COLUMN IF NOT EXISTS (\w+)", text)  # appended
        assert columns == schema.names, table


def test_contract_views_keep_their_columns() -> None:
    """Schema snapshot: removing or renaming one of these breaks BI dashboards."""
    text = "\n".join(p.read_text() for p in sorted(MIGRATIONS_DIR.glob("*.sql")))
    snapshot = {
        "v_events": ["event_id", "occurred_at", "person_id", "session_id", "event_type", "channel",
                     "touchpoint", "stage", "revenue"],
        "v_sessions": ["session_id", "person_id", "started_at", "ended_at", "event_count", "channels",
                       "converted", "revenue", "duration_s", "channel_switches", "bounce",
                       "entry_touchpoint", "exit_touchpoint"],
        "v_identities": ["kind", "value", "person_id"],
    }
    for view, columns in snapshot.items():
        body = text.split(f"VIEW parcours.{view} AS")[-1].split("\nFROM ")[0]  # the latest definition
        aliases = re.findall(r"AS (\w+)", body)
        assert set(columns) <= set(aliases), (view, set(columns) - set(aliases))


def test_statement_splitting_ignores_comments() -> None:
    assert split_statements("-- a; comment\nSELECT 1;\n\nSELECT 2;\n") == ["SELECT 1", "SELECT 2"]
