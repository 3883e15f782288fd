"""Shared helpers. Integration tests run the real CLI in subprocesses: each `parcours`
process owns its embedded broker and its chDB engine (one engine per process), exactly as a
user's would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(args: list[str], data_dir: Path, stdin: bytes | None = None, timeout: float = 300,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PARCOURS_DATA_DIR": str(data_dir), **(env or {})}
    environment.pop("PARCOURS_KAFKA_BOOTSTRAP", None)
    environment.pop("PARCOURS_CLICKHOUSE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args], cwd=ROOT, env=environment,
        input=stdin.decode() if stdin is not None else None, capture_output=True, text=True,
        timeout=timeout, check=False,
    )


def fact_columns(payload: bytes) -> tuple[str, dict[str, list[Any]]] | None:
    """A facts message's table and columns as the sink inserts them (times in seconds); None
    for the other messages (barriers)."""
    from pipeline import codec

    header, document = codec.header_and_document(payload)
    return None if document is None else (header["table"], orjson.loads(document))


def query(data_dir: Path, sql: str) -> list[dict[str, Any]]:
    done = run_cli(["sql", "--json", sql], data_dir, timeout=120)
    assert done.returncode == 0, done.stderr
    return [orjson.loads(line) for line in done.stdout.splitlines() if line.strip()]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "parcours"


FACT_TABLES = ("events", "sessions", "identities", "person_merges", "session_merges", "dead_letters",
               "identity_links", "identity_refusals", "identity_shared", "attribution_markov",
               "event_sessions", "kpi_daily_state", "identity_first_seen", "pii_salt")


@pytest.fixture(scope="session")
def clickhouse(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The one chDB engine this test process may open (chDB allows one per process), migrated.
    Tests that insert facts call `empty(client)` first and must not rely on other tests' rows."""
    from pipeline.settings import Settings
    from pipeline.sink.clickhouse import _clients, connect
    from pipeline.sink.migrations import migrate

    if _clients:  # another module opened it already: reuse, a second path would fail
        client = next(iter(_clients.values()))
    else:
        root = tmp_path_factory.mktemp("chdb")
        client = connect(Settings.from_env({"PARCOURS_DATA_DIR": str(root), "PARCOURS_PII_SALT": "tests"}))
    migrate(client)
    return client


def empty(client) -> None:  # type: ignore[no-untyped-def]
    for table in FACT_TABLES:
        client.command(f"TRUNCATE TABLE IF EXISTS parcours.{table}")
