"""The replay ledger (parcours.replay_runs): which replays ran, and which were killed part-way.

strategy: a replay records itself as `running` when it starts and refreshes the row while it
works; `done` when it finishes. A later replay that finds a `running` row whose process is
gone (same host, pid dead) or silent for STALE_S (another host) knows that run was
interrupted: its facts are in ClickHouse but the sessions it cut saw part of the input only.
Events are keyed by event_id, so re-sending them is harmless; the sessions are fixed by
re-sessionizing every person after the new run (jobs/finish.py).
"""

from __future__ import annotations

import os
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

from clickhouse_connect.driver.client import Client

from pipeline.sink.clickhouse import lock, query_rows

SQL = Path(__file__).parent / "sql" / "replay"
STALE_S = 120.0
COLUMNS = ["replay_id", "files", "host", "pid", "status", "lines", "started_at", "updated_at"]


class Ledger:
    def __init__(self, client: Client, replay_id: str, files: list[str]) -> None:
        self.client, self.replay_id, self.files = client, replay_id, files
        self.started = datetime.now(UTC)
        self.lines = 0

    @property
    def started_ms(self) -> int:
        return int(self.started.timestamp() * 1000)

    def interrupted(self) -> dict[str, int]:
        """Replays that were running and whose process is gone: replay id -> started (ms)."""
        rows = query_rows(self.client, (SQL / "runs.sql").read_text())
        now_ms, host = time.time() * 1000, socket.gethostname()
        return {replay_id: int(started_ms) for replay_id, run_host, pid, started_ms, updated_ms in rows
                if replay_id != self.replay_id and (
                    (run_host == host and (int(pid) == os.getpid() or not pid_alive(int(pid))))
                    or now_ms - int(updated_ms) > STALE_S * 1000)}

    def record(self, status: str, replay_id: str | None = None) -> None:
        row = [replay_id or self.replay_id, self.files, socket.gethostname(), os.getpid(), status,
               self.lines, self.started, datetime.now(UTC)]
        with lock:
            self.client.insert("parcours.replay_runs", [row], column_names=COLUMNS)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
