"""Versioned ClickHouse migrations: infra/clickhouse/NNNN_name.sql, applied in order, once.

Each applied file is recorded in parcours.schema_migrations; statements are idempotent
(IF NOT EXISTS / OR REPLACE), so a migration interrupted half-way can simply run again.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from clickhouse_connect.driver.client import Client

from pipeline import INFRA
from pipeline.sink import access

log = logging.getLogger(__name__)

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


def migrate(client: Client, directory: Path = MIGRATIONS_DIR, bi_password: str | None = None,
            bi_user: str = access.USER) -> list[Migration]:
    """Apply pending migrations in order, then re-sync the reference data and the BI access
    (pipeline/sink/access.py: views readable through the role, the BI user when `bi_password`
    is given); returns the migrations applied now."""
    from pipeline.sink import reference

    with_access = access.manages_access(client)
    applied_now = _apply(client, directory, with_access)
    if missing := missing_objects(client, directory):
        # Dropped by hand (`parcours sql "DROP ..."`): every statement is idempotent, so running
        # them all again re-creates what is missing and leaves the rest as it is. Not their
        # INSERTs: those backfill data once, when a migration is first applied, and the data is
        # there (0016's would add each converting session again under its first-written id).
        log.warning("re-creating parcours objects that migrations made and are missing: %s", ", ".join(missing))
        _apply(client, directory, with_access, again=True)
    reference.sync(client)
    access.secure_views(client)
    if with_access and bi_password:
        access.ensure_bi_user(client, bi_password, bi_user)
    elif with_access:
        log.warning("PARCOURS_BI_PASSWORD is not set: BI user %s not created or changed", bi_user)
    return applied_now


def _apply(client: Client, directory: Path, with_access: bool = True, again: bool = False) -> list[Migration]:
    done = set() if again else applied(client)
    now = []
    for migration in discover(directory):
        if migration.version in done:
            continue
        for statement in migration.statements():
            if not with_access and access.is_access_statement(statement):
                continue  # embedded chDB cannot store roles or users (access.py)
            if again and _INSERT.match(statement):
                continue
            client.command(statement)
        client.insert("parcours.schema_migrations", [[migration.version, migration.name, datetime.now(UTC)]],
                      column_names=["version", "name", "applied_at"])
        now.append(migration)
    return now


_INSERT = re.compile(r"^INSERT\s", re.I)
_CREATE = re.compile(r"^CREATE\s+(?:OR\s+REPLACE\s+)?(?:MATERIALIZED\s+)?(?:TABLE|VIEW)\s+"
                     r"(?:IF\s+NOT\s+EXISTS\s+)?parcours\.(\w+)", re.I)
_DROP = re.compile(r"^DROP\s+(?:TABLE|VIEW)\s+(?:IF\s+EXISTS\s+)?parcours\.(\w+)", re.I)


def created_objects(directory: Path = MIGRATIONS_DIR) -> set[str]:
    """The tables and views the migrations leave behind, in order: created, unless dropped later."""
    objects: set[str] = {"schema_migrations"}
    for migration in discover(directory):
        for statement in migration.statements():
            if created := _CREATE.match(statement):
                objects.add(created.group(1))
            elif dropped := _DROP.match(statement):
                objects.discard(dropped.group(1))
    return objects


def missing_objects(client: Client, directory: Path = MIGRATIONS_DIR) -> list[str]:
    present = {row[0] for row in client.query("SELECT name FROM system.tables WHERE database = 'parcours'").result_rows}
    return sorted(created_objects(directory) - present)


def pending(client: Client, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    done = applied(client)
    return [m for m in discover(directory) if m.version not in done]
