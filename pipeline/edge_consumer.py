"""The consumer of the edges (ingest, sink, graph follower, changelog restore): confluent-kafka
(librdkafka) behind the small async surface the edges use.

Why not aiokafka here: librdkafka fetches in its own threads (the event loop only collects
what is there), and aiokafka's Fetch v11 requests get empty answers from the embedded broker
once a partition holds a few hundred MB — a soak run stalled the ingest edge for good after
~110k events per partition, while librdkafka read the same offsets. Faust keeps aiokafka for
the agents' internal topics, whose messages carry batches.

Blocking calls run in a worker thread, one at a time per consumer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass

from aiokafka import TopicPartition
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException
from confluent_kafka import TopicPartition as CTP

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] | None


Batch = dict[TopicPartition, list[Record]]


#: Seconds without a message, while the assigned partitions have unread data, after which the
#: consumer is reported stuck (see `_watch`).
STALL_S = 30.0


class EdgeConsumer:
    def __init__(self, config: dict[str, object], group: str | None, topics: tuple[str, ...]) -> None:
        # librdkafka needs a group id even for assigned partitions; nothing is committed then
        self._group = group
        self._topics = topics
        self._consumer = Consumer({**config, "group.id": group or "parcours-unmanaged"})
        self._lock = asyncio.Lock()
        self._last_data = time.monotonic()
        self._paused = False

    @property
    def group(self) -> str | None:
        return self._group

    async def start(self) -> None:
        if self._topics:
            self._consumer.subscribe(list(self._topics))

    async def _call(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        async with self._lock:
            return await asyncio.to_thread(fn, *args, **kwargs)

    async def getmany(self, timeout_ms: int = 0, max_records: int = 500) -> Batch:
        messages = await self._call(self._consumer.consume, max_records, timeout_ms / 1000)
        if messages:
            self._last_data = time.monotonic()
        elif time.monotonic() - self._last_data > STALL_S:
            await self._watch()
        out: Batch = defaultdict(list)
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("Kafka consumer error on %s: %s", message.topic(), error)
                continue
            out[TopicPartition(message.topic(), message.partition())].append(Record(
                message.topic(), message.partition(), message.offset(), message.key(), message.value(),
                message.headers()))
        return out

    async def _watch(self) -> None:
        """Say so when nothing came for STALL_S although the assigned partitions hold unread
        data. Seen on the embedded broker only: its memory storage answers a fetch at the end
        of a partition in ~10 ms up to ~7 000 stored record batches and in 0.2-0.5 s from
        ~9 500 on (produce stays fast), and it cannot delete records; every stage polls its
        partitions, so after a few minutes of steady input the broker spends all its CPU on
        fetches and the groups starve."""
        self._last_data = time.monotonic()
        if self._group is None or self._paused or not self._topics:
            return
        behind = 0
        for tp in self.assignment():
            high = (await self.end_offsets([tp]))[tp]
            behind += max(0, high - await self.position(tp))
        if behind:
            log.warning("consumer of %s (group %s) received nothing for %.0fs with %d messages unread. "
                        "On the embedded broker this is its memory storage slowing down once a partition "
                        "holds ~9 000 record batches (minutes of steady input): restart parcours (the "
                        "embedded broker starts empty) and, for a long run, set PARCOURS_KAFKA_BOOTSTRAP "
                        "to a real Kafka", ", ".join(self._topics), self._group, STALL_S, behind)

    async def commit(self) -> None:
        """Commit what was consumed so far (after the caller made it durable downstream)."""
        try:
            await self._call(self._consumer.commit, asynchronous=False)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError._NO_OFFSET:  # nothing consumed since the last commit
                raise

    def assign(self, partitions: list[TopicPartition], from_beginning: bool = True) -> None:
        self._consumer.assign([CTP(tp.topic, tp.partition, OFFSET_BEGINNING if from_beginning else -1001)
                               for tp in partitions])

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(tp.topic, tp.partition) for tp in self._consumer.assignment()]

    def pause(self, *partitions: TopicPartition) -> None:
        self._paused = True
        self._consumer.pause([CTP(tp.topic, tp.partition) for tp in partitions])

    def resume(self, *partitions: TopicPartition) -> None:
        self._paused = False
        self._consumer.resume([CTP(tp.topic, tp.partition) for tp in partitions])

    def highwater(self, tp: TopicPartition) -> int | None:
        low, high = self._consumer.get_watermark_offsets(CTP(tp.topic, tp.partition), cached=True)
        return None if high < 0 else int(high)

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        def ends() -> dict[TopicPartition, int]:
            return {tp: int(self._consumer.get_watermark_offsets(CTP(tp.topic, tp.partition), timeout=10)[1])
                    for tp in partitions}
        return await self._call(ends)

    async def position(self, tp: TopicPartition) -> int:
        """Next offset this consumer will read (0 before it read anything)."""
        ctp = CTP(tp.topic, tp.partition)
        (where,) = self._consumer.position([ctp])
        if where.offset >= 0:
            return int(where.offset)

        def start() -> int:  # nothing read yet: where reading starts (committed, else the earliest)
            if self._group is not None:
                (committed,) = self._consumer.committed([ctp], timeout=5)
                if committed.offset >= 0:
                    return int(committed.offset)
            return int(self._consumer.get_watermark_offsets(ctp, timeout=5)[0])
        return await self._call(start)

    async def stop(self) -> None:
        await self._call(self._consumer.close)
