"""Both bench runners (jobs.bench_runs) over a small pre-loaded topic on the embedded broker:
each runs in its own process, reads every message, and prints one JSON result line.
No timing assertions: the figures depend on the machine."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from jobs.simulate import simulate
from pipeline.embedded.broker import EmbeddedBroker
from pipeline.kafka import ensure_topics, flush, produce, producer
from pipeline.topics import Topic
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

TOPIC = Topic("raw", "bench.raw", 4)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A broker whose raw topic holds every simulated line (malformed ones included)."""
    broker = EmbeddedBroker(tmp_path_factory.mktemp("bench") / "broker")
    bootstrap = broker.start()
    try:
        ensure_topics(bootstrap, [TOPIC])
        lines = simulate(persons=300).lines
        prod = producer(bootstrap)
        for i, line in enumerate(lines):
            produce(prod, TOPIC.name, line, partition=i % TOPIC.partitions)
        flush(prod, 60)
        yield bootstrap, len(lines)
    finally:
        broker.stop()


def run(name: str, bootstrap: str, events: int, cwd: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "jobs.bench_runs", name, "--bootstrap", bootstrap,
         "--topic", TOPIC.name, "--events", str(events), "--timeout", "40"],
        cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=50, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not list(cwd.iterdir()), "a bench run left files in its working directory"
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, done.stdout
    return orjson.loads(lines[0])


@pytest.mark.parametrize("name", ["ceiling", "baseline"])
def test_runner_reads_every_event(loaded: tuple[str, int], name: str, tmp_path: Path) -> None:
    bootstrap, produced = loaded
    assert produced > 2000
    result = run(name, bootstrap, produced, tmp_path)
    assert result["name"] == name
    assert result["events"] == produced
    assert result["eps"] > 0
    assert result["peak_rss_mb"] > 0
    assert set(result) == {"name", "events", "seconds", "eps", "peak_rss_mb"}
