"""Soak: a worker under a steady event rate for minutes; memory and consumer lag sampled.

strategy: a fixed population (the simulator's journeys, Parcours-form lines only) is replayed
in event-time order, pass after pass, each pass shifted by the data's span with fresh event
ids — the same customers coming back, so the identity state stops growing after the first
pass while sessions keep opening, closing and leaving memory. One `parcours worker` process
(sink + embedded ClickHouse) runs against a broker started here; every `--sample` seconds the
worker's and the broker's RSS and each consumer group's lag (end offset - committed offset,
summed over partitions) are printed. Ends with one JSON line: first-half vs second-half RSS
and lag. `python -m jobs.soak --minutes 10 --rate 2000`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Consumer, Producer, TopicPartition

from jobs.simulate import simulate
from pipeline.embedded.broker import EmbeddedBroker, free_port
from pipeline.kafka import ensure_topics
from pipeline.topics import topics

GROUPS = {"ingest": ("parcours-ingest", "raw"), "identity": ("parcours", "valid"),
          "sessions": ("parcours", "by_person"), "sink": ("parcours-sink", "facts")}


def population(persons: int, seed: int) -> tuple[list[dict[str, Any]], timedelta]:
    """Valid Parcours-form events in event-time order, and the span they cover."""
    events = []
    for line in simulate(persons, seed).lines:
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(event, dict) and isinstance(event.get("event_id"), str) and "occurred_at" in event:
            try:
                event["_t"] = datetime.fromisoformat(str(event["occurred_at"]).replace("Z", "+00:00"))
            except ValueError:
                continue
            if event["_t"].year == 2026:  # the simulated window; leave out its odd-date lines
                events.append(event)
    events.sort(key=lambda e: e["_t"])
    return events, events[-1]["_t"] - events[0]["_t"] + timedelta(days=1)


def shifted(event: dict[str, Any], lap: int, span: timedelta) -> bytes:
    body = {k: v for k, v in event.items() if k != "_t"}
    body["event_id"] = f"{event['event_id']}-{lap}"
    body["occurred_at"] = (event["_t"] + lap * span).isoformat()  # laps start in the past
    return orjson.dumps(body)


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def lags(bootstrap: str) -> dict[str, int]:
    out = {}
    all_topics = topics()
    for stage, (group, role) in GROUPS.items():
        topic = getattr(all_topics, role)
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
        try:
            parts = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
            committed = consumer.committed(parts, timeout=10)
            total = 0
            for tp in committed:
                end = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=10)[1]
                total += end - max(tp.offset, 0)
            out[stage] = total
        finally:
            consumer.close()
    return out


def soak(minutes: float, rate: int, persons: int, sample_s: float, tmp: Path) -> dict[str, Any]:
    events, span = population(persons, seed=17)
    laps = int(rate * minutes * 60 / len(events)) + 2
    for event in events:  # every lap stays in the past (ingest refuses events > 24 h ahead)
        event["_t"] -= laps * span
    print(f"population: {persons} persons, {len(events):,} events per lap of {span.days} days; "
          f"{rate:,} events/s for {minutes:g} min", file=sys.stderr)
    broker = EmbeddedBroker(tmp / "broker")
    bootstrap = broker.start()
    ensure_topics(bootstrap, topics().all())
    env = {**os.environ, "PARCOURS_KAFKA_BOOTSTRAP": bootstrap, "PARCOURS_DATA_DIR": str(tmp / "worker"),
           "PARCOURS_HTTP_PORT": str(free_port()), "PARCOURS_PII_SALT": "soak", "PARCOURS_LOG_LEVEL": "WARNING"}
    (tmp / "worker").mkdir()
    with open(tmp / "worker.log", "wb") as log:
        worker = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "worker"], env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    raw = topics().raw
    samples: list[dict[str, Any]] = []
    try:
        time.sleep(10)  # the worker joins its groups
        started = next_sample = time.monotonic()
        sent, lap, i = 0, 0, 0
        print(f"{'min':>5} {'sent':>10} {'worker MB':>10} {'broker MB':>10} " +
              " ".join(f"{'lag ' + s:>13}" for s in GROUPS), file=sys.stderr)
        while (elapsed := time.monotonic() - started) < minutes * 60:
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited; see {tmp / 'worker.log'}")
            due = int(elapsed * rate)
            while sent < due:
                producer.produce(raw.name, shifted(events[i], lap, span), partition=sent % raw.partitions)
                sent, i = sent + 1, i + 1
                if i == len(events):
                    lap, i = lap + 1, 0
            producer.poll(0)
            if time.monotonic() >= next_sample:
                next_sample += sample_s
                row = {"min": elapsed / 60, "sent": sent, "worker_mb": rss_mb(worker.pid),
                       "broker_mb": rss_mb(broker._process.pid) if broker._process else float("nan"),
                       **lags(bootstrap)}
                samples.append(row)
                print(f"{row['min']:5.1f} {sent:10,} {row['worker_mb']:10.0f} {row['broker_mb']:10.0f} " +
                      " ".join(f"{row[s]:13,}" for s in GROUPS), file=sys.stderr)
            time.sleep(0.01)
        producer.flush(30)
    finally:
        worker.terminate()
        worker.wait(120)
        broker.stop()
    half = len(samples) // 2
    first, second = samples[1:half] or samples[:1], samples[half:]

    def mean(rows: list[dict[str, Any]], key: str) -> float:
        return sum(r[key] for r in rows) / len(rows)

    total_lag = [sum(r[s] for s in GROUPS) for r in samples]
    return {"minutes": minutes, "rate": rate, "events": samples[-1]["sent"],
            "worker_rss_mb_first_half": round(mean(first, "worker_mb")),
            "worker_rss_mb_second_half": round(mean(second, "worker_mb")),
            "worker_rss_mb_max": round(max(r["worker_mb"] for r in samples)),
            "lag_first_half": round(sum(total_lag[1:half] or total_lag[:1]) / max(1, len(total_lag[1:half]))),
            "lag_second_half": round(sum(total_lag[half:]) / max(1, len(total_lag[half:]))),
            "lag_last": total_lag[-1]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=2000, help="events per second")
    parser.add_argument("--persons", type=int, default=3000, help="size of the returning population")
    parser.add_argument("--sample", type=float, default=30.0, help="seconds between samples")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="parcours-soak-") as tmp:
        result = soak(args.minutes, args.rate, args.persons, args.sample, Path(tmp))
    print(orjson.dumps(result).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
