"""Read-only ClickHouse access for BI tools: the role `parcours_bi_reader` reads the
`parcours.v_*` views and nothing else; the user `parcours_bi` has that role.

strategy: the role and its grant are SQL, versioned like every schema change
(infra/clickhouse/0008_bi_access.sql). Two things are done here instead, at every migrate:
  - every `parcours.v_*` view is made `SQL SECURITY DEFINER`: it then reads its tables with
    the rights of the user who ran the migration, so SELECT on the view is all a reader needs.
    (A view's default is INVOKER: ClickHouse would check the reader's rights on every table
    underneath, and the role would have to read the raw tables too.) A later migration's
    CREATE OR REPLACE VIEW resets it to INVOKER, hence after every run, not once;
  - the user, whose password comes from the environment (PARCOURS_BI_PASSWORD) so that no
    secret is ever written in a file: created, or its password reset, which is how it rotates.
Embedded chDB has no writable access storage (only its read-only users.xml): CREATE ROLE/USER
and GRANT cannot work there and are skipped; the views are made DEFINER all the same.
"""

from __future__ import annotations

import logging
import re

from clickhouse_connect.driver.client import Client

from pipeline.errors import ConfigError

log = logging.getLogger(__name__)

ROLE = "parcours_bi_reader"
#: Default name of the BI user (PARCOURS_BI_USER; Grafana's data source uses the same variable).
USER = "parcours_bi"
_USER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_ACCESS = re.compile(r"^\s*(?:(?:CREATE|ALTER|DROP)\s+(?:ROLE|USER)|GRANT|REVOKE|SET\s+DEFAULT\s+ROLE)\b",
                     re.IGNORECASE)
_VIEW_NAME = re.compile(r"^v_\w+$")
#: Access storages CREATE ROLE/USER can write to (users.xml and LDAP are read-only).
_WRITABLE = ("local_directory", "replicated", "memory")


def is_access_statement(sql: str) -> bool:
    """CREATE/ALTER/DROP ROLE or USER, GRANT, REVOKE: statements about who may do what."""
    return bool(_ACCESS.match(sql))


def manages_access(client: Client) -> bool:
    """Whether this ClickHouse can store roles and users (a server: yes; chDB: no)."""
    rows = client.query("SELECT count() FROM system.user_directories WHERE type IN {types:Array(String)}",
                        parameters={"types": list(_WRITABLE)}).result_rows
    return bool(rows[0][0])


def secure_views(client: Client) -> list[str]:
    """Make every parcours.v_* view SQL SECURITY DEFINER; returns the views changed now."""
    rows = client.query("SELECT name, create_table_query FROM system.tables WHERE database = 'parcours' "
                        "AND engine = 'View' AND startsWith(name, 'v_')").result_rows
    changed = [name for name, ddl in rows if _VIEW_NAME.match(name) and "SQL SECURITY DEFINER" not in ddl]
    for name in changed:
        client.command(f"ALTER TABLE parcours.{name} MODIFY SQL SECURITY DEFINER DEFINER = CURRENT_USER")
    return changed


def bi_user_statements(password: str, user: str = USER) -> list[str]:
    """The statements that create the BI user or reset its password, in order."""
    if not _USER_NAME.match(user):
        raise ConfigError(f"PARCOURS_BI_USER={user!r} is not a plain user name",
                          hint="use letters, digits and _, e.g. parcours_bi")
    secret = sql_string(password)
    return [
        f"CREATE USER IF NOT EXISTS {user} IDENTIFIED WITH sha256_password BY {secret} DEFAULT DATABASE parcours",
        f"ALTER USER {user} IDENTIFIED WITH sha256_password BY {secret}",
        f"GRANT {ROLE} TO {user}",
        f"ALTER USER {user} DEFAULT ROLE {ROLE}",
    ]


def ensure_bi_user(client: Client, password: str, user: str = USER) -> None:
    # The statements are not logged: they hold the password (ClickHouse hides it in its own
    # query log).
    for statement in bi_user_statements(password, user):
        client.command(statement)
    log.info("BI user %s: password set, role %s", user, ROLE)


def sql_string(text: str) -> str:
    """A ClickHouse string literal: backslashes and quotes escaped, so any password is inert."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
