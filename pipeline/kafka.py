"""Kafka at the edges: confluent-kafka for producing and admin, aiokafka for async consuming.

All clients take the bootstrap address from one place; timeouts are tuned so that a consumer
group joins in seconds on the embedded broker (see BASELINES: join takes ~half the session
timeout).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import weakref
from collections.abc import Iterable
from typing import Any

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from pipeline.edge_consumer import EdgeConsumer
from pipeline.errors import Terminal, Transient
from pipeline.topics import Topic

log = logging.getLogger(__name__)

SESSION_TIMEOUT_MS = 6000
HEARTBEAT_MS = 1000
#: How long a fetch waits for data. The embedded broker answers a fetch only when this runs
#: out (no early wake-up when data arrives), so it is a floor on each hop's latency.
FETCH_MAX_WAIT_MS = 20
#: The fetch wait of consumers no profile update waits for (the identity graph follower, the
#: sink, which writes every MAX_AGE_S anyway). The embedded broker spends ~1 ms of CPU on each
#: fetch, with or without data: an idle consumer polling every 20 ms costs it ~4.5 % of a
#: core, every 100 ms ~1.9 % (measured with one consumer on an idle broker).
BACKGROUND_FETCH_WAIT_MS = 100


def producer(bootstrap: str, report_successes: bool = False) -> Producer:
    """`report_successes`: every delivery calls back (the collector answers an HTTP request
    only once each of its messages is acknowledged). The stages only wait for `flush`: their
    producer calls back on failures only, so a flushing thread does not need the GIL, held by
    the event loop, once per message."""
    return Producer({
        "bootstrap.servers": bootstrap,
        "linger.ms": 5,
        "batch.size": 1_000_000,
        "compression.type": "lz4",
        "enable.idempotence": False,
        "acks": "all",
        "message.max.bytes": 16_000_000,
        "queue.buffering.max.kbytes": 512_000,
        "delivery.report.only.error": not report_successes,
        "log.connection.close": False,  # the embedded broker closes idle connections: not news
        "logger": logging.getLogger("kafka.producer"),  # librdkafka lines go through logging
    })


class DeliveryFailed(Transient):
    """Kafka gave up on a message (librdkafka retried it for `message.timeout.ms`)."""


#: Deliveries librdkafka reported failed, in this process. Sticky: once an output is lost, no
#: flush may report success again, or a stage would commit the input of the lost output.
FAILED_DELIVERIES: list[str] = []


def flush(prod: Producer, timeout: float = 60.0) -> None:
    """Wait until every produced message is acknowledged (at-least-once before commits)."""
    remaining = prod.flush(timeout)
    if remaining:
        raise Transient(f"{remaining} messages not acknowledged by Kafka after {timeout:.0f}s",
                        hint="is the broker up? see PARCOURS_KAFKA_BOOTSTRAP")
    if FAILED_DELIVERIES:
        raise DeliveryFailed(f"{len(FAILED_DELIVERIES)} messages could not be delivered to Kafka "
                             f"(first: {FAILED_DELIVERIES[0]})",
                             hint="check the broker and the topics (parcours doctor); then restart: "
                                  "input not yet committed is read again")


async def flush_async(prod: Producer, timeout: float = 60.0) -> None:
    """`flush` in a thread: the event loop (heartbeats, other stages) keeps running."""
    await asyncio.to_thread(flush, prod, timeout)


def produce(prod: Producer, topic: str, value: bytes, partition: int | None = None,
            key: bytes | None = None, headers: list[tuple[str, bytes]] | None = None) -> None:
    """Produce, waiting for queue space instead of failing when the local buffer is full.
    Failures are recorded whoever made the producer (`_delivered` rides with each message)."""
    while True:
        try:  # keywords, not a kwargs dict built per call: 1.6 -> 1.4 us a message
            prod.produce(topic, value=value, key=key, partition=-1 if partition is None else partition,
                         on_delivery=_delivered, headers=headers)
            return
        except BufferError:
            prod.poll(0.05)


def _delivered(err: object, msg: Any) -> None:
    if err is not None:
        where = f"{msg.topic()}[{msg.partition()}]" if msg is not None else "?"
        log.error("Kafka delivery failed to %s: %s", where, err)
        FAILED_DELIVERIES.append(f"{where}: {err}")


def describe(exc: KafkaException) -> str:
    """The human part of a KafkaException ("Failed to get metadata: ..."), not its repr."""
    error: Any = exc.args[0] if exc.args else None
    return str(error.str()) if hasattr(error, "str") else str(exc)


def check_reachable(bootstrap: str, timeout: float = 5.0) -> None:
    """Terminal at once when no bootstrap server takes a TCP connection (a refused port, a
    name that does not resolve): librdkafka would retry for the whole metadata timeout (30 s)
    before saying the same. A server that answers may still refuse Kafka's requests: that is
    for the metadata call to find."""
    reasons = []
    for server in bootstrap.split(","):
        address = server.strip().rsplit("://", 1)[-1]
        host, _, port = address.rpartition(":") if ":" in address else (address, ":", "9092")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
                return
        except (OSError, ValueError) as exc:
            reasons.append(f"{address}: {getattr(exc, 'strerror', None) or exc}")
    raise Terminal(f"cannot reach Kafka at {bootstrap}: {'; '.join(reasons)}",
                   hint="check PARCOURS_KAFKA_BOOTSTRAP (host:port, reachable from here), "
                        "or unset it to use the embedded broker")


def ensure_topics(bootstrap: str, topics: Iterable[Topic], timeout: float = 30.0, replication: int = 1) -> None:
    """Create missing topics with their declared partition counts and configs (topics.toml),
    `replication` copies of each partition (-1 = the cluster's default.replication.factor;
    Settings.kafka_replication). An existing topic is left as it is."""
    # librdkafka's connection retries go through logging (quiet unless PARCOURS_LOG_LEVEL=ALL)
    # instead of dozens of raw stderr lines before the one-line error below.
    check_reachable(bootstrap)
    config: dict[str, Any] = {"bootstrap.servers": bootstrap, "logger": logging.getLogger("kafka.admin")}
    admin = AdminClient(config)
    try:
        existing = admin.list_topics(timeout=timeout).topics
    except KafkaException as exc:
        raise Terminal(f"cannot reach Kafka at {bootstrap}: {describe(exc)}",
                       hint="check PARCOURS_KAFKA_BOOTSTRAP, or unset it to use the embedded broker") from exc
    missing = [NewTopic(t.name, t.partitions, replication, config=dict(t.config))
               for t in topics if t.name not in existing]
    if not missing:
        return
    for name, future in admin.create_topics(missing, operation_timeout=timeout).items():
        try:
            future.result()
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise Terminal(f"cannot create topic {name}: {exc}") from exc
    log.info("created topics: %s", ", ".join(t.topic for t in missing))


#: The aiokafka consumers alive in this process: GET /metrics reports their lag at scrape time,
#: so the consumer loops do no bookkeeping for it (weak: a stopped edge's consumer goes away).
LIVE_CONSUMERS: weakref.WeakSet[EdgeConsumer] = weakref.WeakSet()


def consumer(bootstrap: str, group: str | None, *topics: str,
             fetch_wait_ms: int = FETCH_MAX_WAIT_MS) -> EdgeConsumer:
    """The edges' consumer (librdkafka, see edge_consumer.py): subscribed to `topics` in
    `group`, or, without topics, for partitions the caller assigns."""
    cons = EdgeConsumer({
        "bootstrap.servers": bootstrap,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": SESSION_TIMEOUT_MS,
        "heartbeat.interval.ms": HEARTBEAT_MS,
        "fetch.wait.max.ms": fetch_wait_ms,
        "max.partition.fetch.bytes": 8 * 1024 * 1024,
        "fetch.max.bytes": 32 * 1024 * 1024,
        "queued.max.messages.kbytes": 64 * 1024,  # bounds what librdkafka prefetches
        "log.connection.close": False,
        "logger": logging.getLogger("kafka.consumer"),
    }, group, topics)
    LIVE_CONSUMERS.add(cons)
    return cons


async def caught_up(cons: EdgeConsumer) -> bool:
    """True when the consumer's position is at the end of every assigned partition."""
    assigned = list(cons.assignment())
    if not assigned:
        return True
    ends = await cons.end_offsets(assigned)
    for tp in assigned:
        if await cons.position(tp) < ends[tp]:
            return False
    return True
