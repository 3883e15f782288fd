"""One PII salt per database: a run whose salt differs from the one the data was hashed with
refuses to start (0018). The first run against a database records its salt's fingerprint."""

from __future__ import annotations

from datetime import UTC, datetime

from clickhouse_connect.driver.client import Client

from pipeline.errors import ConfigError
from pipeline.ingest.pii import Hasher

#: Hashed under the salt: equal fingerprints, equal salts; the fingerprint reveals nothing else.
_PROBE = b"parcours: which salt hashed this database"


def fingerprint(salt: bytes) -> str:
    return Hasher(salt).digest("pii_salt", _PROBE)


def recorded(client: Client) -> list[str]:
    """The fingerprints on record, the first recorded first."""
    rows = client.query("SELECT fingerprint FROM parcours.pii_salt FINAL ORDER BY recorded_at, fingerprint")
    return [row[0] for row in rows.result_rows]


def check(client: Client, salt: bytes, where: str) -> None:
    """Record the salt's fingerprint on first use; refuse a salt the data was not hashed with.
    Two first runs with different salts may both record theirs: the first recorded wins."""
    mine = fingerprint(salt)
    if not recorded(client):
        client.insert("parcours.pii_salt", [[mine, datetime.now(UTC)]], column_names=["fingerprint", "recorded_at"])
    verify(client, salt, where)


def verify(client: Client, salt: bytes, where: str) -> None:
    """Refuse a salt the data was not hashed with; record nothing (a lookup: `identity show`
    of an email would otherwise answer "unknown" for a customer who is there)."""
    known = recorded(client)
    if known and known[0] != fingerprint(salt):
        raise ConfigError(
            f"the data in ClickHouse ({where}) was hashed with another PII salt than this run's",
            hint="set PARCOURS_PII_SALT to the salt that data was written with (the variable's value "
                 "then, or, if it was unset, the file pii_salt of the data dir it was made with); a new "
                 "salt needs a new database: hashes cannot be converted")
