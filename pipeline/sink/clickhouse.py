"""One place that opens ClickHouse: the embedded engine (chdb://PATH) or a server (http[s]://).

chDB allows one engine per process: the client is cached per process and shared by the
sink, the migrator, the CLI's queries and the jobs.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from pipeline.errors import classify_clickhouse
from pipeline.settings import Settings, redact_url

_clients: dict[str, Client] = {}
_lock = threading.Lock()
#: Serialises use of the (single, per-process) client between the sink thread and the rest.
lock = threading.RLock()


def connect(settings: Settings) -> Client:
    url = settings.clickhouse_url
    with _lock:
        if url not in _clients:
            _clients[url] = _open(url)
        return _clients[url]


def _open(url: str) -> Client:
    try:
        if url.startswith("chdb://"):
            Path(url.removeprefix("chdb://")).mkdir(parents=True, exist_ok=True)
        return clickhouse_connect.get_client(dsn=url, settings=_session_settings(url))
    except Exception as exc:  # driver errors are classified in one place
        error = classify_clickhouse(exc)
        error.args = (f"cannot open ClickHouse at {redact_url(url)}: {error.args[0]}",)
        raise error from exc


def _session_settings(url: str) -> dict[str, Any]:
    return {} if url.startswith("chdb://") else {"async_insert": 0}


def query_rows(client: Client, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    with lock:
        return list(client.query(sql, parameters=parameters).result_rows)


def scalar(client: Client, sql: str, parameters: dict[str, Any] | None = None) -> Any:
    rows = query_rows(client, sql, parameters)
    return rows[0][0] if rows else None
