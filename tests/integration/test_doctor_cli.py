"""The usual mistakes, through the real CLI: each says what is wrong in one line and what to do
next (`parcours doctor` lists them all; the other commands stop at the first with `hint:`)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration

UNREACHABLE = {"PARCOURS_KAFKA_BOOTSTRAP": "127.0.0.1:1",
               "PARCOURS_CLICKHOUSE_URL": "http://bob:secret@127.0.0.1:1/parcours"}


def parcours(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PARCOURS_DATA_DIR": str(data_dir), "PARCOURS_PII_SALT": "a-long-test-salt"}
    environment.pop("PARCOURS_KAFKA_BOOTSTRAP", None)
    environment.pop("PARCOURS_CLICKHOUSE_URL", None)
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=ROOT, env={**environment, **env},
                          capture_output=True, text=True, timeout=120, check=False)


def test_doctor_reports_unreachable_servers_with_fixes(data_dir: Path) -> None:
    done = parcours(["doctor"], data_dir, **UNREACHABLE)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    kafka = next(i for i, line in enumerate(lines) if line.startswith("FAIL  kafka"))
    assert "127.0.0.1:1" in lines[kafka] and "fix:" in lines[kafka + 1]
    assert "PARCOURS_KAFKA_BOOTSTRAP" in lines[kafka + 1]
    clickhouse = next(i for i, line in enumerate(lines) if line.startswith("FAIL  clickhouse"))
    assert "unreachable" in lines[clickhouse] and "secret" not in done.stdout
    assert "PARCOURS_CLICKHOUSE_URL" in lines[clickhouse + 1]
    assert any(line.startswith("OK    settings") for line in lines)
    assert lines[-1] == "2 check(s) failed"


def test_doctor_passes_on_the_embedded_stack(data_dir: Path) -> None:
    done = parcours(["doctor"], data_dir, PARCOURS_HTTP_PORT=str(free_port()))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "all checks passed"
    assert "OK    kafka" in done.stdout and "OK    migrations" in done.stdout


def test_doctor_reports_bad_settings(data_dir: Path) -> None:
    done = parcours(["doctor"], data_dir, PARCOURS_SESSION_GAP="soon")
    assert done.returncode == 1
    assert done.stdout.startswith("FAIL  settings") and "PARCOURS_SESSION_GAP" in done.stdout


def test_sql_with_unreachable_clickhouse_gives_a_hint(data_dir: Path) -> None:
    done = parcours(["sql", "SELECT 1"], data_dir, **UNREACHABLE)
    assert done.returncode == 2
    message, hint = done.stderr.strip().splitlines()[-2:]
    assert message.startswith("parcours: ") and "ClickHouse unreachable" in message and "secret" not in message
    assert hint.strip().startswith("hint:") and "PARCOURS_CLICKHOUSE_URL" in hint


def test_up_with_the_http_port_taken(data_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = parcours(["up"], data_dir, PARCOURS_HTTP_PORT=str(port))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"parcours: HTTP port {port} is already in use (PARCOURS_HTTP_PORT)",
        "  hint: stop the other process (another `parcours up`?) or set PARCOURS_HTTP_PORT to a free port",
    ]
    assert not (data_dir / "broker.log").exists()  # nothing was started


@pytest.mark.parametrize(("command", "name", "value", "words"), [
    (["up"], "PARCOURS_HTTP_PORT", "70000", "between 1 and 65535"),
    (["doctor"], "PARCOURS_HTTP_PORT", "-1", "between 1 and 65535"),
    (["replay", "-"], "PARCOURS_BATCH_SIZE", "0", "at least 1"),
    (["sql", "SELECT 1"], "PARCOURS_CLICKHOUSE_URL", "bogus://x", "unsupported scheme (bogus://)"),
    (["sql", "SELECT 1"], "PARCOURS_LOG_LEVEL", "LOUD", "is not a log level"),
])
def test_bad_settings_stop_before_anything_starts(data_dir: Path, command: list[str], name: str, value: str,
                                                  words: str) -> None:
    done = parcours(command, data_dir, **{name: value})
    if command == ["doctor"]:  # a failed check, not a crash
        assert done.returncode == 1 and done.stdout.startswith("FAIL  settings"), done.stdout + done.stderr
        assert words in done.stdout and "fix:" in done.stdout and "Traceback" not in done.stderr
        return
    assert done.returncode == 2, done.stderr
    message, hint = done.stderr.strip().splitlines()
    assert message.startswith(f"parcours: {name}={value!r}") and words in message
    assert hint.startswith("  hint: ")
    assert not (data_dir / "broker.log").exists()  # nothing was started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
