"""Versioned ClickHouse migrations: infra/clickhouse/NNNN_name.sql, applied in order, once.

Each applied file is recorded in parcours.schema_migrations; statements are idempotent
(IF NOT EXISTS / OR REPLACE), so a migration interrupted half-way can simply run again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from clickhouse_connect.driver.client import Client

from pipeline import INFRA

MIGRATIONS_DIR = INFRA / "clickhouse"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LEDGER = """CREATE TABLE IF NOT EXISTS parcours.schema_migrations
(version UInt32, name String, applied_at DateTime64(3, 'UTC'))
ENGINE = ReplacingMergeTree ORDER BY version"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    def statements(self) -> list[str]:
        return split_statements(self.path.read_text())


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"migration file {path.name} must be named NNNN_snake_name.sql")
        found.append(Migration(int(match.group(1)), match.group(2), path))
    return found


def split_statements(sql: str) -> list[str]:
    """Statements end with ';' at the end of a line; '--' comment lines are dropped."""
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    chunks = re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE)
    return [chunk.strip() for chunk in chunks if chunk.strip()]


def applied(client: Client) -> set[int]:
    client.command("CREATE DATABASE IF NOT EXISTS parcours")
    client.command(_LEDGER)
    return {row[0] for row in client.query("SELECT version FROM parcours.schema_migrations FINAL").result_rows}


def migrate(client: Client, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Apply pending migrations in order, then re-sync the reference data; returns the
    migrations applied now."""
    from pipeline.sink import reference

    applied_now = _apply(client, directory)
    reference.sync(client)
    return applied_now


def _apply(client: Client, directory: Path) -> list[Migration]:
    done = applied(client)
    now = []
    for migration in discover(directory):
        if migration.version in done:
            continue
        for statement in migration.statements():
            client.command(statement)
        client.insert("parcours.schema_migrations", [[migration.version, migration.name, datetime.now(UTC)]],
                      column_names=["version", "name", "applied_at"])
        now.append(migration)
    return now


def pending(client: Client, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    done = applied(client)
    return [m for m in discover(directory) if m.version not in done]
