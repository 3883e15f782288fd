"""Latency from an event produced on the raw topic to its profile update on `parcours.profiles`.

strategy: the worker runs in its own process (`jobs.bench_pipeline`, sink included), as in
production; this process only produces and reads, so the load generator never competes with
the pipeline for its interpreter. Events are produced at a steady rate, each for a new person
(user id `lat-N`, the costly case: a new identifier, person, session and profile every time),
and a reader thread notes when each person's first profile update arrives. Every event is
waited for (up to `drain_s` after the last one); `received` says how many arrived, so a
pipeline that falls behind shows up as a low count and a long tail, not as a short p99.
`python -m jobs.latency --rate 5000 --seconds 10`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson
from confluent_kafka import OFFSET_END, Consumer, TopicPartition

from pipeline import logs
from pipeline.embedded.broker import EmbeddedBroker
from pipeline.identity.rules import node_id
from pipeline.kafka import ensure_topics, flush, produce, producer
from pipeline.topics import topics


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def line(i: int, run: str) -> bytes:
    return orjson.dumps({"event_id": f"{run}-{i}", "event_type": "page_view", "channel": "web",
                         "occurred_at": datetime.now(UTC).isoformat(), "identifiers": {"user_id": f"{run}-{i}"}})


def read_profiles(bootstrap: str, seen: dict[str, float], expected: set[str], done: threading.Event,
                  ready: threading.Event) -> None:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"latency-{uuid.uuid4().hex[:8]}",
                         "fetch.wait.max.ms": 5, "enable.auto.commit": False})
    topic = topics().profiles
    consumer.assign([TopicPartition(topic.name, p, OFFSET_END) for p in range(topic.partitions)])
    consumer.consume(1, 0.5)  # resolves the END offsets before anything is produced
    ready.set()
    # Counted down as they arrive: the set intersection this loop made after every poll took
    # 1-6 ms per ~20 ms poll late in a run, CPU taken from the pipeline it measures.
    waiting = len(expected)
    while not done.is_set() and (waiting or not expected):
        for message in consumer.consume(1000, 0.02):
            key = message.key() if message.error() is None else None
            if key:
                person = key.decode()
                if person not in seen:
                    seen[person] = time.perf_counter()
                    waiting -= person in expected
    consumer.close()


def start_worker(bootstrap: str, data_dir: Path) -> subprocess.Popen[str]:
    worker = subprocess.Popen([sys.executable, "-m", "jobs.bench_pipeline", "--bootstrap", bootstrap,
                               "--data-dir", str(data_dir), "--barrier", "none"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (data_dir / "ready").exists():
        if worker.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"latency worker did not start:\n{(worker.communicate()[1] or '')[-2000:]}")
        time.sleep(0.1)
    return worker


def measure(rate: int, seconds: float, data_dir: Path, drain_s: float = 30.0) -> dict[str, float]:
    broker = EmbeddedBroker(data_dir / "broker")
    bootstrap = broker.start()
    worker = None
    try:
        ensure_topics(bootstrap, topics().all())
        worker = start_worker(bootstrap, data_dir / "worker")
        raw, prod, run = topics().raw, producer(bootstrap), f"lat{uuid.uuid4().hex[:6]}"
        total = int(rate * seconds)
        persons = [node_id(f"user_id:{run}-{i}") for i in range(total)]
        sent: dict[str, float] = {}
        seen: dict[str, float] = {}
        done, ready = threading.Event(), threading.Event()
        reader = threading.Thread(target=read_profiles, args=(bootstrap, seen, set(persons), done, ready),
                                  daemon=True)
        reader.start()
        ready.wait(30)
        time.sleep(3)  # the worker's consumer groups settle
        started = time.perf_counter()
        i = 0
        while i < total:  # every millisecond, the events due by then: one sleep per tick, not per event
            due = min(total, int((time.perf_counter() - started) * rate) + 1)
            while i < due:
                produce(prod, raw.name, line(i, run), partition=i % raw.partitions)
                sent[persons[i]] = time.perf_counter()
                i += 1
            prod.poll(0)
            time.sleep(0.001)
        flush(prod, 30)
        reader.join(drain_s)
        done.set()
        reader.join()
    finally:
        if worker is not None:
            worker.terminate()
            worker.communicate(timeout=120)
        broker.stop()
    latencies = [(seen[p] - t) * 1000 for p, t in sent.items() if p in seen]
    return {"events": total, "rate": rate, "received": len(latencies),
            "p50_ms": percentile(latencies, 0.5), "p99_ms": percentile(latencies, 0.99),
            "max_ms": max(latencies, default=float("nan"))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.latency", description=__doc__)
    parser.add_argument("--rate", type=int, default=5000, help="events per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    logs.configure("WARNING")
    with tempfile.TemporaryDirectory(prefix="parcours-latency-") as tmp:
        figures = measure(args.rate, args.seconds, Path(tmp))
    print(orjson.dumps(figures).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
