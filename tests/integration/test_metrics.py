"""GET /metrics, /health and /ready of a running `parcours up` (subprocess: its own embedded
broker and chDB), after a few events produced straight onto its raw topic."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Producer
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT

pytestmark = pytest.mark.integration

EVENTS = [
    {"event_id": f"m{i}", "event_type": "page_view", "occurred_at": f"2026-11-03T10:{i:02d}:00Z",
     "channel": "web", "touchpoint": "homepage", "identifiers": {"anonymous_id": f"a{i % 2}"}}
    for i in range(5)
]
MALFORMED = b"{not json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Up:
    """`parcours up` in a subprocess; stderr is pumped by a thread so it never blocks."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        env = {**os.environ, "PARCOURS_DATA_DIR": str(data_dir), "PARCOURS_HTTP_PORT": str(self.port),
               "PARCOURS_PII_SALT": "tests"}
        env.pop("PARCOURS_KAFKA_BOOTSTRAP", None)
        env.pop("PARCOURS_CLICKHOUSE_URL", None)
        self.process = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "up"], cwd=ROOT, env=env,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    def bootstrap(self, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                found = re.search(r"Kafka: (\S+)", line)
                if found and "Parcours is up" in line:
                    return found.group(1)
            assert self.process.poll() is None, "".join(self.lines)
            time.sleep(0.2)
        raise AssertionError("parcours up did not come up:\n" + "".join(self.lines))

    def wait_http(self, timeout: float = 60) -> None:
        """The web server binds shortly after the stack reports it is up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.get("/health")
                return
            except urllib.error.URLError:
                time.sleep(0.2)
        raise AssertionError("no HTTP server:\n" + "".join(self.lines))

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as reply:
                return reply.status, reply.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    worker = Up(tmp_path_factory.mktemp("metrics") / "parcours")
    try:
        bootstrap = worker.bootstrap()
        worker.wait_http()
        producer = Producer({"bootstrap.servers": bootstrap})
        for event in EVENTS:
            producer.produce("parcours.events.raw", orjson.dumps(event))
        producer.produce("parcours.events.raw", MALFORMED)
        assert producer.flush(30) == 0
        yield worker
    finally:
        worker.stop()


def samples(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of a text exposition."""
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def scrape_until(up: Up, done: object, timeout: float = 90) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    deadline = time.monotonic() + timeout
    while True:
        status, body = up.get("/metrics")
        assert status == 200, body
        got = samples(body)
        if done(got) or time.monotonic() > deadline:  # type: ignore[operator]
            return got
        time.sleep(0.5)


def value(got: dict, name: str, **labels: str) -> float:
    return got.get((name, tuple(sorted(labels.items()))), 0.0)


def test_health_and_ready(up: Up) -> None:
    assert up.get("/health")[0] == 200
    status, body = up.get("/ready")
    assert status == 200 and orjson.loads(body)["ready"] is True
    # every partition this worker owns: the agents', and its edges' (raw input, facts to sink)
    deadline = time.monotonic() + 60
    while set(owned := orjson.loads(up.get("/ready")[1])["partitions"]) != {
            "parcours.events.raw", "parcours.events.valid", "parcours.events.by_person", "parcours.facts"}:
        assert time.monotonic() < deadline, owned
        time.sleep(0.5)
    assert owned["parcours.events.raw"] == [0, 1, 2, 3], owned  # alone: every partition
    for page in ("/router/", "/table/", "/stats/"):  # Faust's pages: host names, Tables we lack
        assert up.get(page)[0] == 404, page


def test_metrics_counters_move(up: Up) -> None:
    got = scrape_until(up, lambda g: value(g, "parcours_sink_rows_total", table="events") >= len(EVENTS)
                       and value(g, "parcours_sink_rows_total", table="dead_letters") >= 1)
    assert value(got, "parcours_events_in_total", stage="ingest") == len(EVENTS) + 1
    assert value(got, "parcours_events_out_total", stage="ingest") == len(EVENTS)
    assert value(got, "parcours_events_out_total", stage="identity") == len(EVENTS)
    assert value(got, "parcours_events_out_total", stage="sessions") == len(EVENTS)
    assert value(got, "parcours_dead_letters_total", reason="not_json") == 1
    assert value(got, "parcours_sink_rows_total", table="events") == len(EVENTS)
    assert value(got, "parcours_ready") == 1


def test_metrics_families_exist(up: Up) -> None:
    got = scrape_until(up, lambda g: value(g, "parcours_sink_insert_seconds_count", table="events") >= 1)
    names = {name for name, _ in got}
    for family in ("parcours_duplicates_total", "parcours_identity_merges_total",
                   "parcours_identity_refusals_total", "parcours_identity_shared_total",
                   "parcours_stage_busy_seconds_total", "parcours_consumer_lag", "parcours_ready"):
        assert family in names, family
    for stage in ("ingest", "identity", "sessions"):
        assert value(got, "parcours_batch_seconds_count", stage=stage) >= 1, stage
        assert value(got, "parcours_batch_seconds_bucket", stage=stage, le="+Inf") >= 1, stage
    assert value(got, "parcours_sink_batch_rows_sum", table="events") == len(EVENTS)
    lag = {dict(labels)["group"] for name, labels in got if name == "parcours_consumer_lag"}
    assert {"parcours-ingest", "parcours-sink", "parcours"} <= lag, lag
    raw = {dict(labels)["partition"] for name, labels in got
           if name == "parcours_consumer_lag" and dict(labels)["topic"] == "parcours.events.raw"}
    assert raw == {"0", "1", "2", "3"}


def test_an_idle_worker_observes_no_batches(up: Up) -> None:
    """The edges poll ~10 times a second; an empty poll is not a batch, or the histogram's
    quantiles would say nothing about the batches that carried events."""
    scrape_until(up, lambda g: value(g, "parcours_sink_rows_total", table="events") >= len(EVENTS))
    time.sleep(2)  # the last batches' outputs through every stage
    before = samples(up.get("/metrics")[1])
    time.sleep(3)
    after = samples(up.get("/metrics")[1])
    for stage in ("sink_decode", "identity_follower", "ingest", "identity", "sessions"):
        counts = [value(g, "parcours_batch_seconds_count", stage=stage) for g in (before, after)]
        assert counts[0] == counts[1], (stage, counts)


def test_the_collector_counts_requests_by_outcome(up: Up) -> None:
    """An operator sees refused SDKs (a wrong write key, a broken body) without reading logs."""
    def post(body: bytes) -> int:
        request = urllib.request.Request(f"http://127.0.0.1:{up.port}/v1/events", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=15) as reply:
                return reply.status
        except urllib.error.HTTPError as exc:
            return exc.code

    event = {**EVENTS[0], "event_id": "via-http"}
    assert post(orjson.dumps([event])) == 200
    assert post(b"[{oops") == 400
    got = scrape_until(up, lambda g: value(g, "parcours_collector_requests_total", outcome="invalid_json") >= 1)
    assert value(got, "parcours_collector_requests_total", outcome="accepted") == 1
    assert value(got, "parcours_collector_requests_total", outcome="invalid_json") == 1
    assert value(got, "parcours_collector_messages_total") == 1
