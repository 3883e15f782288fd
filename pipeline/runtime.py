"""What the stages of one worker process share: settings, topics, producer, state, counters."""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from confluent_kafka import Producer

from pipeline import codec
from pipeline.facts.rows import event_columns
from pipeline.facts.tables import Columns, columns_of, json_columns
from pipeline.identity.graph import IdentityGraph
from pipeline.kafka import DeliveryFailed, flush_async, produce, producer
from pipeline.settings import Settings
from pipeline.stats import Stats
from pipeline.taxonomy import Taxonomy, identity_kinds, taxonomy
from pipeline.topics import Topics, partition_of, topics

log = logging.getLogger(__name__)

#: Exit code of a worker that stopped because Kafka lost one of its outputs (EX_TEMPFAIL).
EXIT_OUTPUT_LOST = 75


@dataclass
class Runtime:
    settings: Settings
    bootstrap: str
    producer: Producer
    topics: Topics = field(default_factory=topics)
    taxonomy: Taxonomy = field(default_factory=taxonomy)
    graph: IdentityGraph = field(init=False)
    stats: Stats = field(default_factory=Stats)
    producers: list[Producer] = field(default_factory=list)
    """Every producer of this worker, the stages' own included (flushed at shutdown)."""

    def __post_init__(self) -> None:
        self.producers.append(self.producer)
        self.kinds = identity_kinds().with_extra(self.settings.extra_identifier_kinds)
        self.graph = IdentityGraph(self.kinds.rules())
        self.graph_ready = asyncio.Event()
        """Set once the follower has read the links topic to its end (identity.follower)."""
        self.taken_over = asyncio.Event()
        """Set when a rebalance gives this worker partitions another worker held (the identity
        agent): the follower then restates every anchor (identity.follower.restate)."""
        self.closing = asyncio.Event()
        """Set when `parcours up` begins to stop: the collector answers 503 from then on, so
        nothing is acknowledged that the embedded broker would lose with its memory."""

    def for_stage(self) -> Runtime:
        """The same runtime with a producer of the stage's own: its `flush_outputs` then waits
        for the stage's outputs only. On a shared producer a flush also waited for every
        message the other stages produced meanwhile (librdkafka's flush waits for an empty
        queue), so each stage's wait grew with the others' traffic."""
        stage = copy.copy(self)
        stage.producer = producer(self.bootstrap)
        self.producers.append(stage.producer)
        return stage

    @cached_property
    def acked_producer(self) -> Producer:
        """A producer that calls back on every delivery: the collector answers a request only
        once each of its messages is acknowledged (`producer` reports failures only)."""
        return producer(self.bootstrap, report_successes=True)

    def close(self, timeout: float = 10.0) -> None:
        """Send what the producers still hold (shutdown)."""
        for each in self.producers:
            each.flush(timeout)
        if "acked_producer" in vars(self):  # made only if the collector served a request
            self.acked_producer.flush(timeout)

    async def flush_outputs(self) -> None:
        """Wait until the stage's outputs are acknowledged, before its input is committed.

        A lost output stops the process at once, as a crash would: raised into a Faust agent,
        the error would still let Faust acknowledge and commit the batch (`take_events` acks
        in a `finally`), and the input of the lost output would never be read again. After a
        restart the state comes back from the changelogs and uncommitted input is re-read."""
        try:
            await flush_async(self.producer)
        except DeliveryFailed as failed:
            log.critical("%s; stopping now, without committing", failed)
            logging.shutdown()
            os._exit(EXIT_OUTPUT_LOST)

    def send(self, topic: str, value: bytes, partition: int) -> None:
        produce(self.producer, topic, value, partition=partition)

    def send_rows(self, table: str, rows: list[dict[str, Any]], spread: int) -> None:
        """Fact rows for the sink, on facts partition `spread % partitions`, column by column."""
        self._send_facts(table, rows, lambda chunk: columns_of(table, chunk), spread)

    def send_event_rows(self, events: list[dict[str, Any]], spread: int) -> None:
        """Rows of the events table, built column by column straight from the events."""
        self._send_facts("events", events, event_columns, spread)

    def _send_facts(self, table: str, rows: list[dict[str, Any]],
                    columns: Callable[[list[dict[str, Any]]], Columns], spread: int) -> None:
        def encode(part: list[dict[str, Any]]) -> bytes:
            return codec.facts(table, len(part), json_columns(table, columns(part)))

        partition = spread % self.topics.facts.partitions
        for chunk in chunks(rows):
            for message in fitted(chunk, encode):
                self.send(self.topics.facts.name, message, partition)

    def send_events(self, topic: str, events: list[dict[str, Any]], partition: int,
                    origin: int | None = None, watermark: int = 0) -> None:
        for chunk in chunks(events):
            for message in fitted(chunk, lambda part: codec.events(part, origin, watermark)):
                self.send(topic, message, partition)

    def send_by_person(self, events: list[dict[str, Any]], origin: int | None = None, watermark: int = 0) -> None:
        """Events grouped into one message per person partition (with the origin's watermark
        when they come from a valid partition: pipeline/watermark.py)."""
        groups: dict[int, list[dict[str, Any]]] = defaultdict(list)
        count = self.topics.by_person.partitions
        for event in events:
            groups[partition_of(event["person_id"], count)].append(event)
        for partition, batch in groups.items():
            self.send_events(self.topics.by_person.name, batch, partition, origin, watermark)

    def send_profile(self, person: str, document: dict[str, Any]) -> None:
        """A profile update or notice for real-time consumers, keyed by person (compacted)."""
        topic = self.topics.profiles
        produce(self.producer, topic.name, codec.encode(document), key=person.encode(),
                partition=partition_of(person, topic.partitions))

    def broadcast(self, topic_name: str, partitions: int, value: bytes) -> None:
        for partition in range(partitions):
            self.send(topic_name, value, partition)


#: Events or rows per internal message: large enough that Faust's per-message cost vanishes,
#: small enough to stay under Kafka's default 1 MB message limit for usual events (1 000 make
#: ~460 KB on an events topic, ~270 KB of facts); bigger ones are split (`fitted`).
CHUNK = 1000
#: Bytes of an internal message at most. A broker refuses bigger ones (`message.max.bytes`:
#: 1 MB by default on a cluster, counted after compression, which base64 in properties does
#: not shrink; librdkafka's own limit here is 16 MB), and a stage that cannot produce stops:
#: 1 000 events of up to 64 KiB, or dead letters keeping up to 64 Ki characters each (a file
#: of over-size lines), made messages of tens of MB that stopped the ingest stage.
MAX_MESSAGE_BYTES = 1_000_000


def chunks(items: list[Any], size: int = CHUNK) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def fitted(items: list[Any], encode: Callable[[list[Any]], bytes]) -> list[bytes]:
    """`items` encoded as one message, or halved until each part fits MAX_MESSAGE_BYTES (usual
    chunks fit at once: encoded once; a single item is never split)."""
    message = encode(items)
    if len(message) <= MAX_MESSAGE_BYTES or len(items) <= 1:
        return [message]
    half = len(items) // 2
    return fitted(items[:half], encode) + fitted(items[half:], encode)


def now_ms() -> int:
    return time.time_ns() // 1_000_000
