"""Latency from an event produced on the raw topic to its profile update on `parcours.profiles`.

Events are produced at a steady rate, each for a new person (user id `lat-N`), so every one
triggers exactly one profile update keyed by a known person id; the consumer notes when each
arrives. Prints p50/p99/max in ms. `python -m jobs.latency --rate 5000 --seconds 10`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
from confluent_kafka import OFFSET_END, Consumer, TopicPartition

from pipeline import logs
from pipeline.embedded.stack import Stack
from pipeline.identity.rules import node_id
from pipeline.kafka import produce
from pipeline.settings import Settings


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def line(i: int, run: str) -> bytes:
    return orjson.dumps({"event_id": f"{run}-{i}", "event_type": "page_view", "channel": "web",
                         "occurred_at": datetime.now(UTC).isoformat(), "identifiers": {"user_id": f"{run}-{i}"}})


async def measure(rate: int, seconds: float, data_dir: Path) -> dict[str, float]:
    settings = Settings.from_env({"PARCOURS_DATA_DIR": str(data_dir)})
    run = f"lat{int(time.time())}"
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    async with Stack(settings) as stack:
        assert stack.pipeline is not None
        rt = stack.pipeline.rt
        done = threading.Event()

        def consume() -> None:
            consumer = Consumer({"bootstrap.servers": stack.bootstrap, "group.id": run,
                                 "fetch.wait.max.ms": 5, "enable.auto.commit": False})
            topic = rt.topics.profiles
            consumer.assign([TopicPartition(topic.name, p, OFFSET_END) for p in range(topic.partitions)])
            while not done.is_set():
                for message in consumer.consume(1000, 0.05):
                    if message.error() is None and message.key():
                        seen.setdefault(message.key().decode(), time.perf_counter())
            consumer.close()

        reader = threading.Thread(target=consume, daemon=True)
        reader.start()
        await asyncio.sleep(3)  # let the pipeline's consumer groups settle
        total, started = int(rate * seconds), time.perf_counter()
        for i in range(total):
            due = started + i / rate
            while time.perf_counter() < due:
                await asyncio.sleep(max(0.0, min(due - time.perf_counter(), 0.002)))
            produce(rt.producer, rt.topics.raw.name, line(i, run), partition=i % rt.topics.raw.partitions)
            rt.producer.poll(0)
            sent[node_id(f"user_id:{run}-{i}")] = time.perf_counter()
        await asyncio.sleep(3)
        done.set()
        reader.join()
    latencies = [(seen[p] - t) * 1000 for p, t in sent.items() if p in seen]
    return {"events": total, "received": len(latencies), "p50_ms": percentile(latencies, 0.5),
            "p99_ms": percentile(latencies, 0.99), "max_ms": max(latencies, default=float("nan"))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.latency", description=__doc__)
    parser.add_argument("--rate", type=int, default=5000, help="events per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    logs.configure("WARNING")
    with tempfile.TemporaryDirectory(prefix="parcours-latency-") as tmp:
        figures = asyncio.run(measure(args.rate, args.seconds, Path(tmp)))
    print(orjson.dumps(figures).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
