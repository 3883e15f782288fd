"""Crash safety with real processes on the real broker and chDB: a worker killed with SIGKILL
in the middle of the input, then restarted (or replaced by the other worker), leaves every
event exactly once in v_events, sessions as a clean run cuts them (no double counts, no
session split by the crash) and identities equal to the offline reference.

The broker runs in the test process, so it outlives the workers; the worker that owns the
embedded ClickHouse engine keeps its data on disk across its own restart.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import defaultdict
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from jobs.simulate import simulate
from pipeline.barrier import send_end_of_input
from pipeline.embedded.broker import EmbeddedBroker, free_port
from pipeline.kafka import ensure_topics
from pipeline.topics import partition_of, topics
from tests.conftest import ROOT, query, run_cli
from tests.integration.test_two_workers import http_json, start_worker
from tests.property.test_identity_order import reference

pytestmark = pytest.mark.integration


def produce_input(bootstrap: str, lines: list[bytes]) -> str:
    """Every line on the raw topic, then an end-of-input barrier; returns the barrier id."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    raw = topics().raw
    for i, line in enumerate(lines):
        producer.produce(raw.name, line, partition=i % raw.partitions)
        if i % 5000 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0
    return send_barrier(bootstrap)


def send_barrier(bootstrap: str) -> str:
    """A new end-of-input barrier on every raw partition. One whose copies a killed worker
    had consumed never completes (what `replay` does then: jobs/replay.py), so the tests
    wait on one sent after the kill."""
    producer, raw = Producer({"bootstrap.servers": bootstrap}), topics().raw
    barrier = uuid.uuid4().hex[:12]
    send_end_of_input(producer, raw, barrier)
    assert producer.flush(30) == 0
    return barrier


def written(bootstrap: str, topic: str, partitions: int) -> int:
    """Messages on a topic so far: how far the pipeline got."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "test-progress"})
    try:
        return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5)[1]
                   for p in range(partitions))
    finally:
        consumer.close()


def barrier_done(port: int, barrier: str) -> bool:
    reply = http_json(f"http://127.0.0.1:{port}/barriers/{barrier}") or {}
    return len(reply.get("partitions") or []) >= topics().facts.partitions  # type: ignore[arg-type]


def wait_until(condition, what: str, workers: list[subprocess.Popen[bytes]], log: Path,  # type: ignore[no-untyped-def]
               timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert all(w.poll() is None for w in workers), f"a worker exited: {log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {log.read_text()[-3000:]}"
        time.sleep(0.1)


def kill_mid_input(bootstrap: str, victim: subprocess.Popen[bytes], port: int, barrier: str,
                   workers: list[subprocess.Popen[bytes]], log: Path) -> None:
    """SIGKILL once facts flow, and check the input was not finished yet."""
    changelog = topics().sessions_changelog
    # the sessions stage has handled a few batches per partition (each writes its changelog)
    wait_until(lambda: written(bootstrap, changelog.name, changelog.partitions) >= 3000, "sessions to work",
               workers, log)
    assert not barrier_done(port, barrier), "the input was processed before the kill: make it larger"
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)


def stop(*workers: subprocess.Popen[bytes]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(60)


def check_exactly_once(data_dir: Path, valid_events: int, sessions_as_cut: bool = True,
                       identities_as_reference: bool = True) -> None:
    # What `parcours replay` runs after the input: merged persons' closed sessions are re-cut
    # in batch (the streaming stage does not re-open sessions it already closed).
    done = run_cli(["resessionize"], data_dir)
    assert done.returncode == 0, done.stderr
    (events,) = query(data_dir, "SELECT count() AS n, uniqExact(event_id) AS ids, countIf(person_id = '') AS "
                                "no_person, countIf(session_id = '') AS no_session FROM parcours.v_events")
    assert events == {"n": valid_events, "ids": valid_events, "no_person": 0, "no_session": 0}
    (sessions,) = query(data_dir, "SELECT sum(event_count) AS events, count() AS n FROM parcours.v_sessions")
    assert sessions["events"] == valid_events  # no event counted twice, none lost from a session
    (orphans,) = query(data_dir, "SELECT count() AS n FROM parcours.v_events "
                                 "WHERE session_id NOT IN (SELECT session_id FROM parcours.v_sessions)")
    assert orphans["n"] == 0
    if not sessions_as_cut:
        return check_identities(data_dir, identities_as_reference)
    # A crash that lost open sessions would start a second session within the gap of the first.
    (split,) = query(data_dir, """
        SELECT countIf(gap_s < 1800) AS n FROM (
            SELECT dateDiff('second', lagInFrame(ended_at) OVER w, started_at) AS gap_s, row_number() OVER w AS k
            FROM parcours.v_sessions
            WINDOW w AS (PARTITION BY person_id ORDER BY started_at ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))
        WHERE k > 1""")
    assert split["n"] == 0
    check_identities(data_dir, identities_as_reference)


def check_identities(data_dir: Path, as_reference: bool = True) -> None:
    identities = query(data_dir, "SELECT kind, value, person_id, shared FROM parcours.v_identities")
    hashed = {r["kind"] + ":" + r["value"]: r["person_id"] for r in identities}
    user_ids = {k: p for k, p in hashed.items() if k.startswith("user_id:")}
    assert len(set(user_ids.values())) == len(user_ids)  # the crash glued no two customers
    if not as_reference:
        return
    stored = query(data_dir, "SELECT event_id, occurred_at, identifiers FROM parcours.events FINAL")
    expected, shared = reference([{k: r[k] for k in ("event_id", "occurred_at", "identifiers")} for r in stored])
    assert {k: p for k, p in hashed.items() if k not in shared} == {k: p for k, p in expected.items() if k not in shared}


@pytest.fixture
def broker(tmp_path: Path):  # type: ignore[no-untyped-def]
    embedded = EmbeddedBroker(tmp_path / "broker")
    bootstrap = embedded.start()
    ensure_topics(bootstrap, topics().all())
    yield bootstrap
    embedded.stop()


def test_worker_killed_mid_batch_restarts_from_its_changelogs(tmp_path: Path, broker: str) -> None:
    sim = simulate(persons=1500, seed=11)
    barrier = produce_input(broker, sim.lines)
    port, data_dir = free_port(), tmp_path / "a"
    log = data_dir / "a.log"
    worker = start_worker("a", broker, data_dir, port, sink=True)
    try:
        kill_mid_input(broker, worker, port, barrier, [worker], log)
        first_life = log.read_text()
        worker = start_worker("a", broker, data_dir, port, sink=True)
        after_kill = send_barrier(broker)
        wait_until(lambda: barrier_done(port, after_kill), "the barrier", [worker], log)
    finally:
        stop(worker)
    assert worker.returncode == 0, log.read_text()[-3000:]
    assert "restored" in log.read_text()  # the second life read the changelogs back
    assert "Traceback" not in first_life
    check_exactly_once(data_dir, sim.truth.valid_event_count)


def test_two_workers_one_killed_the_other_takes_over(tmp_path: Path, broker: str) -> None:
    sim = simulate(persons=1500, seed=12)
    ports = free_port(), free_port()
    a = start_worker("a", broker, tmp_path / "a", ports[0], sink=True)
    b = start_worker("b", broker, tmp_path / "b", ports[1], sink=False)
    log = tmp_path / "b" / "b.log"
    try:
        def split() -> bool:
            owned = [(http_json(f"http://127.0.0.1:{p}/ready") or {}).get("partitions") or {} for p in ports]
            return all(o.get(topics().by_person.name) for o in owned)  # type: ignore[union-attr]

        wait_until(split, "both workers to own partitions", [a, b], log)
        barrier = produce_input(broker, sim.lines)
        kill_mid_input(broker, b, ports[0], barrier, [a, b], log)
        after_kill = send_barrier(broker)
        wait_until(lambda: barrier_done(ports[0], after_kill), "the barrier", [a], tmp_path / "a" / "a.log")
    finally:
        stop(b, a)
    assert a.returncode == 0, (tmp_path / "a" / "a.log").read_text()[-3000:]
    # Anchors only the killed worker had used are restated by the survivor, and follow later
    # merges (test_killed_workers_identifiers_follow_later_merges): identities as the reference.
    check_exactly_once(tmp_path / "a", sim.truth.valid_event_count, sessions_as_cut=False)


def owned(port: int) -> dict[str, list[int]]:
    return (http_json(f"http://127.0.0.1:{port}/ready") or {}).get("partitions") or {}  # type: ignore[return-value]


def settled(ports: tuple[int, int]) -> bool:
    """Each worker owns a part of both agents' topics, the parts cover them, and a second
    look a moment later finds the same (a rebalance in flight reports an old assignment)."""
    def split() -> list[dict[str, list[int]]] | None:
        parts = [owned(p) for p in ports]
        for topic in (topics().valid, topics().by_person):
            mine = [set(part.get(topic.name) or ()) for part in parts]
            if not all(mine) or mine[0] & mine[1] or len(mine[0] | mine[1]) != topic.partitions:
                return None
        return parts

    first = split()
    time.sleep(1.0)
    return first is not None and split() == first


def resolved(port: int) -> int:
    """Events the worker's identity stage resolved (its metrics)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    (line,) = [ln for ln in text.splitlines() if ln.startswith('parcours_events_out') and 'stage="identity"' in ln]
    return int(float(line.split()[-1]))


def test_killed_workers_identifiers_follow_later_merges(tmp_path: Path, broker: str) -> None:
    """Worker B resolves each customer's CRM id with an email, then an event carrying only
    that email, and is killed once all of it is committed; worker A, alone, then sees the CRM
    id log in as a user id. A clean run (one worker, or two that live) puts the three events
    in one person and one session: the person of the email-only event (its anchor, the email,
    was handed out by B alone) must follow the merge that A decides after B died."""
    ports = free_port(), free_port()
    a = start_worker("a", broker, tmp_path / "a", ports[0], sink=True)
    b = start_worker("b", broker, tmp_path / "b", ports[1], sink=False)
    log_a, log_b = tmp_path / "a" / "a.log", tmp_path / "b" / "b.log"
    valid, by_person = topics().valid, topics().by_person
    try:
        wait_until(lambda: settled(ports), "the workers to share the partitions", [a, b], log_b)
        on_b = set(owned(ports[1])[valid.name])
        rng = random.Random(17)

        def event_id(partitions: set[int]) -> str:
            while partition_of(candidate := str(uuid.UUID(int=rng.getrandbits(128))), valid.partitions) \
                    not in partitions:
                pass
            return candidate

        def event(at: int, ids: dict[str, str], kind: str, channel: str, partitions: set[int]) -> dict[str, object]:
            return {"event_id": event_id(partitions), "event_type": kind, "channel": channel, "identifiers": ids,
                    "occurred_at": f"2026-11-0{1 + at // 1440}T{at % 1440 // 60:02d}:{at % 60:02d}:00Z"}

        customers = 40
        before, after = [], []
        for i in range(customers):
            t = 45 * i  # customers' visits an hour apart: one session each in a clean run
            before.append(event(t, {"crm_id": f"C{i}", "email": f"c{i}@example.com"}, "page_view", "web", on_b))
            before.append(event(t + 1, {"email": f"c{i}@example.com"}, "email_open", "email", on_b))
            after.append(event(t + 2, {"crm_id": f"C{i}", "user_id": f"U{i}"}, "login", "web",
                               set(range(valid.partitions))))
        first = produce_input(broker, [orjson.dumps(e) for e in before])
        wait_until(lambda: barrier_done(ports[0], first), "B's events", [a, b], log_b)
        assert [resolved(p) for p in ports] == [0, len(before)], "B did not resolve all of them: a rebalance?"
        b.send_signal(signal.SIGKILL)  # everything B did is committed: nothing of it is re-read
        b.wait(10)
        wait_until(lambda: all(len(owned(ports[0]).get(t.name) or []) == t.partitions for t in (valid, by_person)),
                   "A to take B's partitions over", [a], log_a)
        second = produce_input(broker, [orjson.dumps(e) for e in after])
        wait_until(lambda: barrier_done(ports[0], second), "A's events", [a], log_a)
    finally:
        stop(b, a)
    assert a.returncode == 0, log_a.read_text()[-3000:]
    rows = query(tmp_path / "a", "SELECT event_id, person_id, session_id FROM parcours.v_events")
    assert len(rows) == len(before) + len(after)
    persons: dict[str, set[str]] = defaultdict(set)
    sessions: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        persons[row["person_id"]].add(row["event_id"])
        sessions[row["session_id"]].add(row["event_id"])
    clean = {frozenset({before[2 * i]["event_id"], before[2 * i + 1]["event_id"], after[i]["event_id"]})
             for i in range(customers)}
    assert {frozenset(p) for p in persons.values()} == clean
    assert {frozenset(s) for s in sessions.values()} == clean
    (counts,) = query(tmp_path / "a", "SELECT count() AS n, uniqExact(person_id) AS persons, sum(event_count) AS events "
                                      "FROM parcours.v_sessions")
    assert counts == {"n": customers, "persons": customers, "events": len(rows)}
    check_identities(tmp_path / "a")


def test_replay_killed_part_way_then_run_again(tmp_path: Path) -> None:
    sim = simulate(persons=2500, seed=13)
    source, data_dir = tmp_path / "events.ndjson", tmp_path / "parcours"
    source.write_bytes(b"\n".join(sim.lines) + b"\n")
    env = {**os.environ, "PARCOURS_DATA_DIR": str(data_dir)}
    env.pop("PARCOURS_KAFKA_BOOTSTRAP", None)
    env.pop("PARCOURS_CLICKHOUSE_URL", None)
    log = tmp_path / "first.log"
    with open(log, "wb") as out:
        first = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "replay", str(source)], cwd=ROOT,
                                 env=env, stdout=out, stderr=subprocess.STDOUT)
        # kill once events flow through the stages (progress lines of the processing phase)
        wait_until(lambda: "process " in log.read_text(), "processing to start", [first], log)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    assert "replay " not in log.read_text().split("process ")[-1]  # it had not finished
    time.sleep(0.5)  # the kernel delivers the broker's parent-death signal
    assert str(data_dir) not in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout, \
        "the killed replay left its broker running"

    again = run_cli(["replay", str(source)], data_dir)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "interrupted" in again.stderr  # the ledger knew the first run did not finish
    check_exactly_once(data_dir, sim.truth.valid_event_count)
    # the killed run's session merges are withdrawn: some pointed at sessions it never wrote and
    # hid sessions the rerun cut under the same ids (an event of such a session known through a
    # shared device lost its person)
    (stale,) = query(data_dir, "SELECT count() AS n FROM parcours.session_merges "
                               "WHERE merged_at < (SELECT max(started_at) FROM parcours.replay_runs FINAL)")
    assert stale["n"] == 0
    tables = [r["name"] for r in query(data_dir, "SELECT name FROM system.tables WHERE database = 'parcours' "
                                                  "AND engine NOT LIKE '%View%' AND engine NOT LIKE 'Aggregating%'")]
    dump = str(query(data_dir, " UNION ALL ".join(f"SELECT toString(tuple(*)) AS r FROM parcours.{t}" for t in tables)))
    assert sim.truth.raw_emails and sim.truth.raw_phones
    leaked = [v for v in [*sim.truth.raw_emails, *sim.truth.raw_phones] if v.strip() and v.strip() in dump]
    assert leaked == []
