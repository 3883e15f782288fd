"""The sink edge: facts topic -> ClickHouse, in large batches, idempotently.

strategy: consume facts messages (each already a batch of rows: a JSONColumns document behind
a header line), buffer the documents per table without decoding them, and insert each table's
documents as one insert when they are large or old enough, or when a barrier needs everything
before it written. ClickHouse parses them in C++, outside the GIL: decoding them and building
Arrow blocks here took the event loop's time. Offsets are committed only after the insert, so
a crash re-inserts at most the last batch: the ReplacingMergeTree keys (0001) collapse those
rows, and the views read FINAL.
Backpressure: while ClickHouse refuses inserts the edge pauses its partitions (the facts wait
in Kafka, not in memory), retries with exponential backoff up to MAX_BACKOFF_S, logs each
wait, and resumes when an insert succeeds. Memory stays bounded: at most MAX_ROWS rows plus
one poll (MAX_MESSAGES messages of at most 1 000 rows) are held, as JSON bytes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from datetime import UTC, datetime

from aiokafka import TopicPartition
from clickhouse_connect.driver.client import Client

from pipeline import codec
from pipeline.barrier import BarrierTracker
from pipeline.edge_consumer import EdgeConsumer
from pipeline.errors import SinkUnavailable, Terminal, classify_clickhouse
from pipeline.facts.tables import columns_of, json_columns
from pipeline.kafka import BACKGROUND_FETCH_WAIT_MS, caught_up, consumer
from pipeline.sink.clickhouse import lock
from pipeline.stats import Stats
from pipeline.topics import Topics

log = logging.getLogger(__name__)

MAX_ROWS = 25_000  # rows held before an insert: bounds the buffer (~5 MB of JSON)
MAX_MESSAGES = 32  # facts messages taken per poll (each at most 1 000 rows)
MAX_AGE_S = 0.5
MAX_BACKOFF_S = 30.0
#: The sinks' consumer group: its committed offsets say which facts are in ClickHouse.
GROUP = "parcours-sink"


class SinkEdge:
    def __init__(self, bootstrap: str, client: Client, topics: Topics, stats: Stats) -> None:
        self._bootstrap = bootstrap
        self._client = client
        self._topics = topics
        self._stats = stats
        self._buffer: dict[str, list[bytes | memoryview]] = defaultdict(list)
        """Per table: JSONColumns documents, inserted one after the other as one insert."""
        self._counts: dict[str, int] = defaultdict(int)
        self._barriers: dict[int, BarrierTracker] = {}
        self._reached: list[tuple[str, int]] = []
        self._written_barriers: set[tuple[str, int]] = set()
        self.paused = False
        """True while ClickHouse refuses inserts and the facts partitions are paused."""

    async def run(self, stopping: asyncio.Event) -> None:
        cons = consumer(self._bootstrap, GROUP, self._topics.facts.name, fetch_wait_ms=BACKGROUND_FETCH_WAIT_MS)
        await cons.start()
        last_write = time.monotonic()
        try:
            while not (stopping.is_set() and await caught_up(cons)):
                batch = await cons.getmany(timeout_ms=100, max_records=MAX_MESSAGES)
                if batch:  # an empty poll is no batch: it would crowd the latency histogram
                    with self._stats.timed("sink_decode"):
                        for tp, messages in batch.items():
                            for message in messages:
                                self._take(tp, message.value)
                age = time.monotonic() - last_write
                if self._rows() >= MAX_ROWS or self._reached or (self._rows() and age >= MAX_AGE_S):
                    await self._write(cons)
                    last_write = time.monotonic()
                    await cons.commit()  # only now: everything consumed so far is in ClickHouse
            await self._write(cons)
            await cons.commit()
        finally:
            await cons.stop()

    @property
    def reached(self) -> set[tuple[str, int]]:
        """(barrier id, facts partition) pairs this sink has written."""
        return self._written_barriers

    def _take(self, tp: TopicPartition, payload: bytes) -> None:
        message, document = codec.header_and_document(payload)
        if document is not None:  # "facts"
            self._add(message["table"], document, message["n"])
        elif message["t"] == "columns":  # written by workers of older versions
            self._add(message["table"], json_columns(message["table"], message["columns"]), message["n"])
        elif message["t"] == "rows":
            table = message["table"]
            self._add(table, json_columns(table, columns_of(table, message["rows"])), len(message["rows"]))
        elif message["t"] == "barrier":
            tracker = self._barriers.setdefault(
                tp.partition, BarrierTracker(self._topics.by_person.partitions))
            if tracker.arrive(message["id"], message["origin"]):
                log.debug("barrier %s reached the sink on facts partition %d", message["id"], tp.partition)
                self._reached.append((message["id"], tp.partition))

    def _add(self, table: str, document: bytes | memoryview, count: int) -> None:
        self._buffer[table].append(document)
        self._counts[table] += count

    def _rows(self) -> int:
        return sum(self._counts.values())

    async def _write(self, cons: EdgeConsumer) -> None:
        """Insert everything buffered; while ClickHouse refuses, stop consuming and retry."""
        delay, paused_at = 0.5, 0.0
        while True:
            try:
                await asyncio.to_thread(self._insert_all)
                break
            except Terminal:
                raise
            except Exception as exc:  # driver errors are classified in one place
                error = exc if isinstance(exc, SinkUnavailable) else classify_clickhouse(exc)
                if isinstance(error, Terminal):
                    raise error from exc
                if not paused_at:
                    paused_at = time.monotonic()
                    cons.pause(*cons.assignment())
                    self.paused = True
                log.warning("ClickHouse refuses inserts (%s); holding %d rows, consumption paused, "
                            "retrying in %.1fs; nothing is lost, the rest waits in Kafka: see why on the "
                            "ClickHouse side (`parcours doctor` checks it)", str(error).splitlines()[0],
                            self._rows(), delay)
                await asyncio.sleep(delay)
                await cons.getmany(timeout_ms=0)  # paused: returns nothing, but keeps group membership
                delay = min(delay * 2, MAX_BACKOFF_S)
        if paused_at:
            cons.resume(*cons.assignment())
            self.paused = False
            log.warning("ClickHouse accepts inserts again after %.1fs; consumption resumed",
                        time.monotonic() - paused_at)

    def _insert_all(self) -> None:
        with lock:
            for table in list(self._buffer):
                count = self._counts[table]
                if count:
                    started = time.perf_counter()
                    self._client.raw_insert(f"parcours.{table}", insert_block=b"".join(self._buffer[table]),
                                            fmt="JSONColumns")
                    self._stats.sink_inserted(table, count, time.perf_counter() - started)
                del self._buffer[table]
                del self._counts[table]
            if self._reached:
                now = datetime.now(UTC)
                self._client.insert("parcours.pipeline_barriers",
                                    [[b, p, now] for b, p in self._reached],
                                    column_names=["barrier_id", "partition", "completed_at"])
                self._written_barriers.update(self._reached)
                self._reached.clear()
