"""Two `parcours worker` processes on one embedded broker: identifiers live on different
partitions and workers, merges race, and the result still equals the offline reference.

Worker A owns the (embedded) ClickHouse engine and the sink; worker B only processes.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Producer

from pipeline.barrier import send_end_of_input
from pipeline.embedded.broker import EmbeddedBroker, free_port
from pipeline.http import FORWARDED
from pipeline.kafka import ensure_topics
from pipeline.topics import topics
from tests.conftest import ROOT, query
from tests.property.test_identity_order import reference

pytestmark = pytest.mark.integration


def journeys(rng: random.Random) -> list[dict[str, object]]:
    """Per customer a chain of links, each written on its own (so merges happen on
    different workers at once), plus family tablets and a store kiosk that must not glue."""
    events: list[dict[str, object]] = []

    def add(minute: int, ids: dict[str, str], kind: str = "page_view", channel: str = "web") -> None:
        events.append({"event_id": str(uuid.UUID(int=rng.getrandbits(128))), "event_type": kind,
                       "channel": channel, "identifiers": ids,
                       "occurred_at": f"2026-11-0{1 + minute // 1440}T{minute % 1440 // 60:02d}:{minute % 60:02d}:00Z"})

    for i in range(120):
        t = rng.randrange(0, 5000)
        add(t, {"anonymous_id": f"a{i}", "device_id": f"d{i}"})
        add(t + 1, {"device_id": f"d{i}", "email": f"m{i}@example.com"})
        add(t + 2, {"anonymous_id": f"b{i}", "email": f"M{i}@Example.com "})
        add(t + 3, {"anonymous_id": f"b{i}", "user_id": f"u{i}"}, "login")
        add(t + 4, {"loyalty_id": f"L{i}", "device_id": "kiosk-1"}, "store_visit", "store")
        add(t + 5, {"user_id": f"u{i}", "loyalty_id": f"L{i}"}, "purchase", "store")
        if i % 10 == 0:  # a family tablet shared by customers i and i+1
            add(t + 6, {"device_id": f"tablet-{i}", "user_id": f"u{i}"}, "login", "app")
            add(t + 7, {"device_id": f"tablet-{i}", "user_id": f"u{i + 1}"}, "login", "app")
    for j in range(5):  # a device and an email that would glue two user ids: a refused link
        t = rng.randrange(0, 5000)
        add(t, {"device_id": f"dx{j}", "user_id": f"ua{j}"}, "login")
        add(t + 1, {"device_id": f"dx{j}", "email": f"x{j}@example.com"})
        add(t + 2, {"email": f"x{j}@example.com", "user_id": f"ub{j}"}, "login")
    rng.shuffle(events)
    return events


def start_worker(name: str, bootstrap: str, data_dir: Path, port: int, sink: bool) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PARCOURS_KAFKA_BOOTSTRAP": bootstrap, "PARCOURS_DATA_DIR": str(data_dir),
           "PARCOURS_HTTP_PORT": str(port), "PARCOURS_SINK": "1" if sink else "0",
           "PARCOURS_PII_SALT": "two-workers"}
    data_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([sys.executable, "-m", "pipeline.cli", "worker"], cwd=ROOT, env=env,
                            stdout=open(data_dir / f"{name}.log", "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115


def http_json(url: str) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return orjson.loads(reply.read())
    except OSError:
        return None


def http_status(url: str, headers: dict[str, str]) -> tuple[int, dict[str, object], str | None]:
    """(status, JSON body, Retry-After) of a GET, errors included."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=2) as reply:
            return reply.status, orjson.loads(reply.read()), reply.headers.get("Retry-After")
    except urllib.error.HTTPError as error:
        return error.code, orjson.loads(error.read()), error.headers.get("Retry-After")


def test_two_workers_agree_with_the_reference(tmp_path: Path) -> None:
    broker = EmbeddedBroker(tmp_path / "broker")
    bootstrap = broker.start()
    ensure_topics(bootstrap, topics().all())
    ports = free_port(), free_port()
    a = start_worker("a", bootstrap, tmp_path / "a", ports[0], sink=True)
    b = start_worker("b", bootstrap, tmp_path / "b", ports[1], sink=False)
    try:
        for port in ports:
            deadline = time.monotonic() + 60
            while (http_json(f"http://127.0.0.1:{port}/ready") or {}).get("ready") is not True:
                assert time.monotonic() < deadline and a.poll() is None and b.poll() is None
                time.sleep(0.2)
        deadline = time.monotonic() + 60
        while True:  # the two workers split the agents' partitions between them
            owned = [(http_json(f"http://127.0.0.1:{port}/ready") or {}).get("partitions") or {} for port in ports]
            split = all(o.get(topics().valid.name) and o.get(topics().by_person.name) for o in owned)  # type: ignore[union-attr]
            if split:
                break
            assert time.monotonic() < deadline, owned
            time.sleep(0.5)
        events = journeys(random.Random(5))
        producer = Producer({"bootstrap.servers": bootstrap})
        raw = topics().raw
        for i, e in enumerate(events):
            producer.produce(raw.name, orjson.dumps(e), partition=i % raw.partitions)
        barrier = uuid.uuid4().hex[:12]
        send_end_of_input(producer, raw, barrier)
        producer.flush(10)
        deadline = time.monotonic() + 120
        url = f"http://127.0.0.1:{ports[0]}/barriers/{barrier}"
        while len((http_json(url) or {}).get("partitions") or []) < topics().facts.partitions:  # type: ignore[arg-type]
            assert time.monotonic() < deadline, (tmp_path / "a" / "a.log").read_text()[-3000:]
            time.sleep(0.2)
        # either worker answers for any identifier: the one that does not own the person's
        # partition forwards to the one that does
        for i in (1, 2, 3, 4, 5, 6):
            answers = [http_json(f"http://127.0.0.1:{port}/profiles/email/m{i}@example.com") for port in ports]
            assert answers[0] and answers[1] and answers[0]["person_id"] == answers[1]["person_id"], answers
            assert answers[0]["conversions"] == 1
            # a request already forwarded is not forwarded again: the worker that does not own
            # the partition says so (503, retry) instead of bouncing it back
            replies = [http_status(f"http://127.0.0.1:{port}/profiles/email/m{i}@example.com",
                                   {FORWARDED: "1"}) for port in ports]
            assert sorted(status for status, _, _ in replies) == [200, 503], replies
            (refused,) = [r for r in replies if r[0] == 503]
            assert refused[1]["error"] == "partition not assigned" and "retry" in str(refused[1]["hint"])
            assert refused[2] == "2"
    finally:
        for worker in (b, a):  # B flushes its sessions first; A's sink drains them, then stops
            worker.send_signal(signal.SIGTERM)
            worker.wait(60)
        broker.stop()
    assert a.returncode == 0 and b.returncode == 0, (tmp_path / "a" / "a.log").read_text()[-3000:]
    for log in ("a/a.log", "b/b.log"):  # both workers took part
        assert "pipeline running" in (tmp_path / log).read_text()

    data_dir = tmp_path / "a"
    rows = query(data_dir, "SELECT count() AS n, uniqExact(event_id) AS ids, countIf(person_id = '') AS none "
                           "FROM parcours.v_events")
    assert rows == [{"n": len(events), "ids": len(events), "none": 0}]
    identities = query(data_dir, "SELECT kind, value, person_id, shared FROM parcours.v_identities")
    assert {r["value"] for r in identities if r["shared"]} == {"kiosk-1"} | {f"tablet-{i}" for i in range(0, 120, 10)}
    hashed = {r["kind"] + ":" + r["value"]: r["person_id"] for r in identities}
    # the reference works on the same (hashed) identifiers, read back from the events table
    stored = query(data_dir, "SELECT event_id, occurred_at, identifiers FROM parcours.events FINAL")
    ref_events = [{"event_id": r["event_id"], "occurred_at": r["occurred_at"], "identifiers": r["identifiers"]}
                  for r in stored]
    expected, shared = reference(ref_events)
    assert {k for k in hashed if k in shared} == shared
    assert {k: p for k, p in hashed.items() if k not in shared} == {k: p for k, p in expected.items() if k not in shared}
    persons = {p for k, p in hashed.items() if k.startswith("user_id:")}
    assert len(persons) == 130  # one person per user id: none glued
    (stats,) = query(data_dir, "SELECT refusals, shared_identifiers FROM parcours.v_identity_stats")
    assert stats == {"refusals": 5, "shared_identifiers": 1 + 12}
