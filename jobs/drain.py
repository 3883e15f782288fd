"""Wait until everything already produced has reached ClickHouse (before `parcours forget`).

strategy: `forget` finds the person in ClickHouse and deletes their rows. Rows of theirs still
on their way (on a topic, inside a stage, or held by a sink while ClickHouse refuses inserts)
would land after the delete and bring the person back, with the identities that lead to them
already gone. So `forget` drains the pipeline before it reads anything:

  1. A cheap look, in flow order (raw -> valid -> by_person -> facts): has each stage's
     consumer group committed its input to the end? A stage commits only after its outputs
     are acknowledged, so a message that moves on while we look is on the next topic before
     we look there. Nothing uncommitted = nothing in flight (a stopped or an idle pipeline):
     no wait, no barrier that nobody would process.
  2. Else an end-of-input barrier on every raw partition (pipeline/barrier.py, as `replay`
     sends), and a wait until the sinks have recorded it for every facts partition in
     `parcours.pipeline_barriers`: by then everything produced before it is in ClickHouse,
     open sessions included (each stage flushes them at a barrier). A barrier lost in a
     worker's crash or a hand-over never completes: a new one goes after RESEND_S without
     progress, as replay does.
  3. A bounded wait: after `wait_s` it gives up with PipelineBehind, before anything was read
     or deleted; the same command is run again once the pipeline has caught up.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from clickhouse_connect.driver.client import Client
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from pipeline import codec
from pipeline.app import APP_ID
from pipeline.barrier import partitions_past, send_end_of_input
from pipeline.errors import Transient
from pipeline.ingest.edge import GROUP as INGEST_GROUP
from pipeline.kafka import check_reachable, describe, flush, producer
from pipeline.sink.edge import GROUP as SINK_GROUP
from pipeline.topics import Topic, Topics

log = logging.getLogger(__name__)

#: Seconds `forget` waits for the pipeline before giving up (a ClickHouse that refuses inserts
#: makes the sink retry with up to 30 s between attempts).
WAIT_S = 120.0
#: Seconds without a new facts partition past the barrier after which another one is sent.
RESEND_S = 20.0
SAY_EVERY_S = 5.0
POLL_S = 0.2
#: Uncommitted by_person messages looked into for erasure notices (a few per earlier forget).
PEEK_MAX = 1_000


class PipelineBehind(Transient):
    """The pipeline has not written what it held before the request: nothing was erased."""


def stages(topics: Topics) -> list[tuple[str, Topic]]:
    """Each stage's consumer group and input topic, in flow order."""
    return [(INGEST_GROUP, topics.raw), (APP_ID, topics.valid), (APP_ID, topics.by_person),
            (SINK_GROUP, topics.facts)]


def in_flight(bootstrap: str, topics: Topics) -> dict[str, int]:
    """Messages each stage has not committed yet, by input topic (stages at the end left out)."""
    out: dict[str, int] = {}
    for group, topic in stages(topics):
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                             "logger": logging.getLogger("kafka.consumer")})
        try:
            partitions = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
            committed = consumer.committed(partitions, timeout=10)
            behind = 0
            ranges = []
            for tp in committed:  # no commit yet: everything still on the topic is ahead
                low, high = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=10)
                start = tp.offset if tp.offset >= 0 else low
                if high > start:
                    behind += high - start
                    ranges.append(TopicPartition(tp.topic, tp.partition, start))
            if behind and topic.name == topics.by_person.name and behind <= PEEK_MAX:
                behind -= erasures(consumer, ranges, behind)
        except KafkaException as exc:
            raise Transient(f"cannot read the pipeline's progress from Kafka: {describe(exc)}",
                            hint="is the broker up? see PARCOURS_KAFKA_BOOTSTRAP; nothing was erased") from None
        finally:
            consumer.close()
        if behind:
            out[topic.name] = behind
    return out


def erasures(consumer: Consumer, ranges: list[TopicPartition], count: int) -> int:
    """Of the `count` uncommitted messages from `ranges`, the erasure notices of an earlier
    `forget`: they carry no facts to wait for, and a stopped pipeline would never take them."""
    consumer.assign(ranges)
    found = read = 0
    deadline = time.monotonic() + 10
    while read < count and time.monotonic() < deadline:
        for message in consumer.consume(count - read, timeout=1.0):
            if message.error() is None:
                read += 1
                found += message.value() is not None and codec.decode(message.value()).get("t") == "forget"
    return found


def drain(bootstrap: str, client: Client, topics: Topics, wait_s: float = WAIT_S,
          say: Callable[[str], None] = log.info) -> str | None:
    """Return once everything produced before the call is in ClickHouse: the barrier that
    came through, or None when nothing was in flight. PipelineBehind after `wait_s`."""
    check_reachable(bootstrap)  # else librdkafka logs every refused connection until its timeouts
    ahead = in_flight(bootstrap, topics)
    if not ahead:
        return None
    barriers = [f"forget-{uuid.uuid4().hex[:12]}"]
    prod = producer(bootstrap)
    send(prod, topics.raw, barriers[-1])
    say(f"waiting for the pipeline to write what it holds ({summary(ahead)}) before erasing; "
        f"giving up after {wait_s:.0f}s")
    expected = topics.facts.partitions
    started = moved = said = time.monotonic()
    past = 0
    while (now_past := partitions_past(client, barriers)) < expected:
        now = time.monotonic()
        if now_past != past:
            past, moved = now_past, now
        if now - started > wait_s:
            raise behind(bootstrap, topics, barriers[-1], past, expected, wait_s)
        if now - moved > RESEND_S:
            barriers.append(f"{barriers[0]}-{len(barriers)}")
            log.warning("barrier %s has not come through for %.0fs: sending %s", barriers[-2], RESEND_S,
                        barriers[-1])
            send(prod, topics.raw, barriers[-1])
            moved = now
        if now - said > SAY_EVERY_S:
            say(f"  {past}/{expected} facts partitions written past barrier {barriers[-1]} "
                f"({now - started:.0f}s)")
            said = now
        time.sleep(POLL_S)
    return barriers[-1]


def send(prod: Producer, raw: Topic, barrier_id: str) -> None:
    send_end_of_input(prod, raw, barrier_id)
    flush(prod, timeout=30.0)


def behind(bootstrap: str, topics: Topics, barrier_id: str, past: int, expected: int,
           wait_s: float) -> PipelineBehind:
    left = in_flight(bootstrap, topics)
    return PipelineBehind(
        f"the pipeline has not written what it held before this request after {wait_s:.0f}s "
        f"(barrier {barrier_id}: {past}/{expected} facts partitions; not processed yet: "
        f"{summary(left) or 'nothing uncommitted, but the barrier is not recorded'}); nothing was erased",
        hint="rows of the person may still be on their way to ClickHouse, and would come back after an "
             "erasure: check that the workers run and that ClickHouse accepts inserts (worker log: "
             "`ClickHouse refuses inserts`; `parcours doctor`), then run the same command again")


def summary(ahead: dict[str, int]) -> str:
    return ", ".join(f"{topic} {count:,} messages" for topic, count in ahead.items())
