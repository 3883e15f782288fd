"""The two reference runs of `make bench`, each in its own process, over a pre-loaded topic.

  python -m jobs.bench_runs baseline|ceiling --bootstrap HOST:PORT --topic NAME --events N

The topic holds N raw input lines (one Kafka message each, the Parcours input format) before
the run starts. A run times from its first processed message to its N-th, then prints ONE JSON
line on stdout: {"name", "events", "seconds", "eps", "peak_rss_mb"}; progress goes to stderr.
Each runs in a fresh process so that start-up, imports and memory do not leak between runs
(peak RSS is the process's own).

baseline -- "Faust as usual": what a team gets by writing the obvious Faust program. One agent
    iterates the raw topic per event (`async for value in stream`) and does a minimal
    stitching + sessionization with Faust Tables written per event: a `persons` Table
    (identifier -> person: the first known person of the event's identifiers, else a new one
    named by its strongest identifier; one write per identifier whose person changed, and at
    least one per event) and a `sessions` Table (person -> [session_id, last_ts], 30-minute
    gap, one write per event). Every write is a changelog record. This is the design Parcours
    must beat: BASELINES puts it near 4k events/s (Faust's per-message cost plus per-event
    changelog writes). Lines that are not JSON or have no usable identifiers/time are counted
    as processed and skipped.

ceiling -- what Python can do at all on this machine: aiokafka without a consumer group (all
    partitions assigned, from the beginning), `getmany` + `orjson.loads` per message, no state,
    no output. No stream processor in Python reads and decodes faster, so it bounds Parcours.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

#: Identifier kinds, strongest first (schemas/identity.toml): the strongest names a new person.
RANKS: dict[str, int] = {kind: rank for rank, kind in enumerate(
    ("user_id", "crm_id", "loyalty_id", "email", "phone", "device_id", "anonymous_id"))}
SESSION_GAP_MS = 30 * 60_000
FETCH_WAIT_MS = 20
PROGRESS_EVERY = 10_000


# ---- measurement ------------------------------------------------------------------------

@dataclass
class Meter:
    """Counts processed messages; the clock starts at the first and stops at the `target`-th."""

    name: str
    target: int
    count: int = 0
    started: float = 0.0
    ended: float = 0.0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def begin(self) -> None:
        """Start the clock (once): called as the first message starts being processed."""
        if not self.started:
            self.started = time.perf_counter()

    def tick(self, n: int = 1) -> None:
        """`n` more messages processed."""
        if not self.started:
            self.started = time.perf_counter()
        before, self.count = self.count, self.count + n
        if before // PROGRESS_EVERY != self.count // PROGRESS_EVERY:
            print(f"{self.name}: {self.count:,}/{self.target:,}", file=sys.stderr, flush=True)
        if self.count >= self.target and not self.done.is_set():
            self.ended = time.perf_counter()
            self.done.set()

    def result(self) -> dict[str, Any]:
        seconds = max(self.ended - self.started, 1e-9)
        return {"name": self.name, "events": self.count, "seconds": round(seconds, 3),
                "eps": round(self.count / seconds, 1), "peak_rss_mb": round(peak_rss_mb(), 1)}


def peak_rss_mb() -> float:
    """This process's peak RSS. Linux's `ru_maxrss` keeps the *parent's* high-water mark
    across fork+exec (a runner started by `make bench`, which holds every simulated line,
    would report the parent's peak), so read VmHWM, which is reset at exec; `ru_maxrss`
    (KiB on Linux) only where /proc is missing."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---- baseline: minimal stitching + sessions, the per-event logic --------------------------

@dataclass(frozen=True, slots=True)
class Event:
    keys: list[str]  # "kind:value", strongest first
    ts: int  # event time, epoch ms


def parse(raw: bytes) -> Event | None:
    """The identifiers and time of a raw line (plain or Segment-spec), None if unusable."""
    try:
        msg = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(msg, dict):
        return None
    ids = msg.get("identifiers")
    if ids is None and "anonymousId" in msg:  # a Segment message: its ids, its time
        ids = {"anonymous_id": msg.get("anonymousId"), "user_id": msg.get("userId")}
    stamp = msg.get("occurred_at") or msg.get("timestamp")
    if not isinstance(ids, dict) or not isinstance(stamp, str):
        return None
    keys = sorted((f"{k}:{v}" for k, v in ids.items() if isinstance(v, str) and v),
                  key=lambda key: RANKS.get(key.split(":", 1)[0], len(RANKS)))
    try:
        ts = int(datetime.fromisoformat(stamp).timestamp() * 1000)
    except ValueError:
        return None
    return Event(keys, ts) if keys else None


def stitch(persons: Any, keys: list[str]) -> str:
    """The event's person, via the `persons` Table: one write per changed key, at least one."""
    known = [persons.get(key) for key in keys]
    person = next((p for p in known if p is not None), keys[0])
    writes = 0
    for key, current in zip(keys, known, strict=True):
        if current != person:
            persons[key] = person
            writes += 1
    if not writes:  # the identity record is touched per event, as a per-event app would
        persons[keys[0]] = person
    return person


def sessionize(sessions: Any, person: str, ts: int) -> None:
    """One `sessions` Table write per event: a new session after a 30-minute gap."""
    current = sessions.get(person)
    if current is None or ts - current[1] > SESSION_GAP_MS:
        sessions[person] = [f"{person}/{ts}", ts]
    else:
        sessions[person] = [current[0], max(current[1], ts)]


# ---- baseline: the Faust app -------------------------------------------------------------

def topic_partitions(bootstrap: str, topic: str) -> int:
    from confluent_kafka.admin import AdminClient

    meta = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=30)
    partitions = meta.topics[topic].partitions if topic in meta.topics else {}
    if not partitions:
        raise SystemExit(f"topic {topic} not found on {bootstrap}")
    return len(partitions)


def faust_app(bootstrap: str, datadir: str) -> Any:
    import faust

    return faust.App(
        f"bench-baseline-{uuid.uuid4().hex[:8]}",  # a new group: reads from the beginning
        broker=f"kafka://{bootstrap}",
        store="memory://",
        datadir=datadir,  # Faust's default is `<app id>-data` in the working directory
        broker_session_timeout=6,  # group join takes ~half of it (BASELINES)
        broker_heartbeat_interval=1,
        consumer_auto_offset_reset="earliest",
        consumer_max_fetch_size=8 * 1024 * 1024,
        topic_allow_declare=False,
        topic_disable_leader=True,
        web_enabled=False,
        autodiscover=False,
    )


def declare_baseline(app: Any, topic: str, partitions: int, meter: Meter) -> list[str]:
    """The agent and its two Tables; returns the changelog topic names (to create: Faust may
    not declare topics here, as in pipeline/app.py)."""
    source = app.topic(topic, value_serializer="raw", key_serializer="raw")
    persons = app.Table("persons", partitions=partitions)  # changelog: raw keys, json values
    sessions = app.Table("sessions", partitions=partitions)

    @app.agent(source, name="bench.baseline")
    async def baseline(stream: Any) -> None:
        async for value in stream:
            event = parse(value)
            if event is not None:
                sessionize(sessions, stitch(persons, event.keys), event.ts)
            meter.tick()

    return [persons.changelog_topic.get_topic_name(), sessions.changelog_topic.get_topic_name()]


async def run_baseline(bootstrap: str, topic: str, events: int, timeout: float) -> Meter:
    from pipeline.app import tune_faust_fetch
    from pipeline.kafka import ensure_topics
    from pipeline.topics import Topic

    meter = Meter("baseline", events)
    partitions = topic_partitions(bootstrap, topic)
    with tempfile.TemporaryDirectory(prefix="parcours-bench-baseline-") as datadir:
        app = faust_app(bootstrap, datadir)
        changelogs = declare_baseline(app, topic, partitions, meter)
        ensure_topics(bootstrap, [Topic("changelog", name, partitions) for name in changelogs])
        await app.start()
        tune_faust_fetch(app)
        try:
            await wait_done(meter, timeout)
        finally:
            await app.stop()
    return meter


# ---- ceiling -----------------------------------------------------------------------------

async def run_ceiling(bootstrap: str, topic: str, events: int, timeout: float) -> Meter:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    meter = Meter("ceiling", events)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
        fetch_max_wait_ms=FETCH_WAIT_MS, max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=32 * 1024 * 1024,
    )
    await consumer.start()
    try:
        await consumer.topics()  # fetches metadata
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            raise SystemExit(f"topic {topic} not found on {bootstrap}")
        consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
        await consumer.seek_to_beginning()
        await within(drain(consumer, meter), meter, timeout)
    finally:
        await consumer.stop()
    return meter


async def drain(consumer: Any, meter: Meter) -> None:
    while not meter.done.is_set():
        batches = await consumer.getmany(timeout_ms=100, max_records=10_000)
        for records in batches.values():
            meter.begin()
            for msg in records:
                try:
                    orjson.loads(msg.value)
                except orjson.JSONDecodeError:
                    pass  # malformed lines cost their decode, like any other
            meter.tick(len(records))  # per batch: the ceiling should not pay the meter per event


# ---- entry point -------------------------------------------------------------------------

async def wait_done(meter: Meter, timeout: float) -> None:
    await within(meter.done.wait(), meter, timeout)


async def within(work: Awaitable[Any], meter: Meter, timeout: float) -> None:
    try:
        await asyncio.wait_for(work, timeout)
    except TimeoutError:
        raise SystemExit(f"{meter.name}: only {meter.count:,}/{meter.target:,} events "
                         f"after {timeout:.0f}s") from None


RUNNERS: dict[str, Callable[[str, str, int, float], Any]] = {
    "baseline": run_baseline, "ceiling": run_ceiling}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(RUNNERS))
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds before giving up")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    # Faust logs "producer buffer full" at every burst of changelog writes (~1 per 100 events
    # here): its normal backpressure, which would drown the progress lines.
    logging.getLogger("faust.transport.producer").setLevel(logging.ERROR)
    if args.events < 1:
        parser.error("--events must be positive")
    meter = asyncio.run(RUNNERS[args.name](args.bootstrap, args.topic, args.events, args.timeout))
    print(orjson.dumps(meter.result()).decode(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
