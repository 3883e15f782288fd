"""Read-only BI access (infra/clickhouse/0008_bi_access.sql, pipeline/sink/access.py): the role
reads the v_* views and nothing else, every v_* object is a view that runs with its definer's
rights, and the access statements are valid ClickHouse.

Embedded chDB has no writable access storage, so a BI user cannot be created and tried here
(that needs a ClickHouse server: see README, Production). What chDB can check is checked: the
real ClickHouse parser accepts every access statement (chDB then refuses them for want of an
access storage or a privilege, never for their syntax), and after a migration every v_* view
is SQL SECURITY DEFINER.
"""

from __future__ import annotations

import re

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from pipeline.sink import access
from pipeline.sink.migrations import applied, discover, migrate

(BI,) = [m for m in discover() if m.name == "bi_access"]
GRANT = re.compile(r"GRANT\s+SELECT\s+ON\s+parcours\.(v_\w*\*?)\s+TO\s+parcours_bi_reader", re.IGNORECASE)
CREATES = re.compile(r"CREATE\s+(?:OR\s+REPLACE\s+)?(MATERIALIZED\s+VIEW|VIEW|TABLE|DICTIONARY)\s+"
                     r"(?:IF\s+NOT\s+EXISTS\s+)?parcours\.(\w+)", re.IGNORECASE)


def test_0008_creates_the_role_and_grants_select_on_v_views_only() -> None:
    statements = BI.statements()
    assert "CREATE ROLE IF NOT EXISTS parcours_bi_reader" in statements
    grants = [s for s in statements if s.upper().startswith("GRANT")]
    assert grants and all(GRANT.fullmatch(" ".join(g.split())) for g in grants), grants
    assert all(access.is_access_statement(s) for s in statements)
    assert not any("IDENTIFIED" in s.upper() or "USER" in s.upper() for s in statements)  # no user, no secret


def test_no_other_migration_manages_access() -> None:
    for migration in discover():
        if migration.version != BI.version:
            assert not any(access.is_access_statement(s) for s in migration.statements()), migration.name


def test_the_v_prefix_is_reserved_for_plain_views() -> None:
    """The role's grant is a v_* prefix: a table or a materialized view named v_... would leak."""
    for migration in discover():
        for statement in migration.statements():
            created = CREATES.match(statement)
            if created and created.group(2).startswith("v_"):
                assert created.group(1).upper() == "VIEW", (migration.name, statement[:80])


@pytest.mark.parametrize(("sql", "expected"), [
    ("CREATE ROLE IF NOT EXISTS r", True), ("GRANT SELECT ON parcours.v_* TO r", True),
    ("  create user if not exists u", True), ("REVOKE SELECT ON parcours.events FROM r", True),
    ("ALTER USER u DEFAULT ROLE r", True), ("DROP ROLE IF EXISTS r", True),
    ("CREATE OR REPLACE VIEW parcours.v_events AS SELECT 1", False),
    ("ALTER TABLE parcours.events ADD COLUMN IF NOT EXISTS x UInt8", False),
    ("CREATE TABLE IF NOT EXISTS parcours.user_grants (x UInt8) ENGINE = Memory", False),
])
def test_access_statements_are_recognised(sql: str, expected: bool) -> None:
    assert access.is_access_statement(sql) is expected


@pytest.mark.parametrize("password", ["plain", "it's", "back\\slash\\", "'; DROP TABLE parcours.events; --",
                                      "tab\tnew\nline", "ünïcødé €", "\\'"])
def test_any_password_is_one_inert_string_literal(clickhouse, password: str) -> None:  # type: ignore[no-untyped-def]
    """The real parser reads the literal back as exactly the password."""
    assert clickhouse.query(f"SELECT {access.sql_string(password)}").result_rows == [(password,)]
    for statement in access.bi_user_statements(password):
        assert statement.count(access.sql_string(password)) <= 1


def test_access_statements_parse_in_the_real_engine(clickhouse) -> None:  # type: ignore[no-untyped-def]
    """chDB refuses them (no access storage, or no privilege), but only after parsing them."""
    for statement in BI.statements() + access.bi_user_statements("it's a \\ secret"):
        try:
            clickhouse.command(statement)
        except DatabaseError as exc:
            assert "SYNTAX_ERROR" not in str(exc), (statement.split(" BY ")[0], str(exc)[:300])


def test_after_migrate_every_v_view_runs_with_its_definers_rights(clickhouse) -> None:  # type: ignore[no-untyped-def]
    migrate(clickhouse, bi_password="ignored on chDB")  # harmless there: access statements skipped
    assert not access.manages_access(clickhouse) and BI.version in applied(clickhouse)
    views = clickhouse.query("SELECT name, create_table_query FROM system.tables WHERE database = 'parcours' "
                             "AND startsWith(name, 'v_')").result_rows
    assert len(views) >= 10
    insecure = [name for name, ddl in views if "SQL SECURITY DEFINER" not in ddl]
    assert not insecure
    assert access.secure_views(clickhouse) == []  # idempotent: nothing left to change


def test_a_view_redefined_by_a_later_migration_is_secured_again(clickhouse) -> None:  # type: ignore[no-untyped-def]
    clickhouse.command("CREATE OR REPLACE VIEW parcours.v_bi_access_probe AS SELECT 1 AS x")
    try:
        assert access.secure_views(clickhouse) == ["v_bi_access_probe"]
    finally:
        clickhouse.command("DROP VIEW IF EXISTS parcours.v_bi_access_probe")
