"""`parcours up` as a user runs it: a subprocess on a data directory, HTTP on a free port."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from pipeline.embedded.broker import free_port
from tests.conftest import ROOT


@contextmanager
def parcours_up(data_dir: Path) -> Iterator[tuple[str, str]]:
    """(Kafka bootstrap, HTTP base URL) while `parcours up` runs; stopped with Ctrl-C after."""
    port = free_port()
    env = {**os.environ, "PARCOURS_DATA_DIR": str(data_dir), "PARCOURS_HTTP_PORT": str(port)}
    env.pop("PARCOURS_KAFKA_BOOTSTRAP", None)
    env.pop("PARCOURS_CLICKHOUSE_URL", None)
    log_path = data_dir / "up.log"
    log = open(log_path, "a+")  # noqa: SIM115
    process = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "up"], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    start = log_path.stat().st_size
    bootstrap = None
    try:
        for _ in range(600):
            text = log_path.read_text()[start:]
            match = re.search(r"Kafka: (\S+)", text)
            if match and "Parcours is up" in text:
                bootstrap = match.group(1)
                break
            assert process.poll() is None, text
            time.sleep(0.1)
        assert bootstrap, log_path.read_text()[start:]
        yield bootstrap, f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(60)
        log.close()
    assert code == 0, log_path.read_text()[-3000:]


def get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, orjson.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, orjson.loads(error.read() or b"{}")


def wait_for(url: str, check: Callable[[int, dict[str, Any]], bool], seconds: float = 60) -> tuple[int, dict[str, Any]]:
    deadline = time.monotonic() + seconds
    while True:
        status, body = get(url)
        if check(status, body) or time.monotonic() > deadline:
            return status, body
        time.sleep(0.2)


def event(event_id: str, minute: int, event_type: str, channel: str, ids: dict[str, str], **props: object) -> bytes:
    """One raw event line at 10:MM on 2026-11-03, touchpoint `tp-<event_id>`."""
    return orjson.dumps({"event_id": event_id, "event_type": event_type, "channel": channel, "identifiers": ids,
                         "occurred_at": f"2026-11-03T10:{minute:02d}:00Z", "touchpoint": f"tp-{event_id}",
                         "properties": props})
