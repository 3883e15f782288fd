"""The ingest edge: raw topic -> validated events (by event_id) + dead letters.

Raw input is one event per Kafka message, so this stage is a plain consumer loop (librdkafka,
thousands per poll; pipeline/edge_consumer.py), not a Faust agent: Faust's per-message cost
would cap it near 13k events/s (BASELINES). Offsets are committed (at most once a second) after
everything produced from the polls before is acknowledged: at-least-once, with duplicates
removed downstream by event_id.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import Any

from aiokafka import TopicPartition

from pipeline import codec
from pipeline.edge_consumer import EdgeConsumer, Record
from pipeline.facts.rows import dead_letter_row
from pipeline.ingest import oversized
from pipeline.ingest.logic import IngestConfig, ingest_one
from pipeline.ingest.outcomes import DeadLetter
from pipeline.ingest.pii import dead_letter_text, masked_through_escapes
from pipeline.kafka import consumer, produce
from pipeline.runtime import Runtime, now_ms
from pipeline.topics import partition_of
from pipeline.watermark import source_watermark

log = logging.getLogger(__name__)

REPLAY_HEADER = "parcours-replay"
#: The ingest edges' consumer group: its committed offsets say which raw input was ingested.
GROUP = "parcours-ingest"
#: Seconds the edge waits to fill a batch before processing what it has.
GATHER_S = 0.05
#: Offsets are committed at most this often (what was produced is acknowledged before every
#: commit): a crash re-reads at most about a second of input, and the broker is not asked to
#: commit 20 times a second.
COMMIT_INTERVAL_S = 1.0


async def run(rt: Runtime, stopping: asyncio.Event) -> None:
    cfg = IngestConfig.build(rt.settings.pii_salt, rt.settings.phone_country, rt.settings.extra_identifier_kinds)
    cons = consumer(rt.bootstrap, GROUP, rt.topics.raw.name)
    await cons.start()
    committed_at = time.monotonic()
    highest: dict[int, int] = {}  # raw partition -> its watermark (pipeline/watermark.py)
    try:
        while not stopping.is_set():
            batch = await gather(cons, rt.settings.batch_size)
            if not batch:
                continue
            barriers = []
            with rt.stats.timed("ingest"):
                for tp, messages in batch.items():
                    barriers += ingest_partition(rt, cfg, tp.topic, tp.partition, messages, highest)
            await rt.flush_outputs()
            for barrier_id, origin in barriers:
                rt.broadcast(rt.topics.valid.name, rt.topics.valid.partitions,
                             codec.barrier(barrier_id, "ingest", origin))
            await rt.flush_outputs()
            if time.monotonic() - committed_at >= COMMIT_INTERVAL_S:
                await cons.commit()
                committed_at = time.monotonic()
        await cons.commit()
    finally:
        await cons.stop()


async def gather(cons: EdgeConsumer, size: int, within_s: float = GATHER_S) -> dict[TopicPartition, list[Record]]:
    """Poll until `size` records or `within_s` passed: big batches make big internal messages."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    out: dict[TopicPartition, list[Record]] = defaultdict(list)
    count = 0
    while count < size:
        left_ms = int((deadline - loop.time()) * 1000)
        if left_ms <= 0:
            break
        for tp, records in (await cons.getmany(timeout_ms=left_ms, max_records=size - count)).items():
            out[tp] += records
            count += len(records)
    return out


def ingest_partition(rt: Runtime, cfg: IngestConfig, topic: str, partition: int,
                     messages: list[Record], highest: dict[int, int]) -> list[tuple[str, int]]:
    """Ingest one partition's messages; returns the barriers met, in order. `highest` holds
    each raw partition's watermark, sent along with its events (pipeline/watermark.py)."""
    valid: dict[int, list[dict[str, Any]]] = defaultdict(list)
    dead: list[dict[str, Any]] = []
    barriers: list[tuple[str, int]] = []
    received = now_ms()
    count = rt.topics.valid.partitions
    for message in messages:
        raw = message.value or b""
        barrier_id = codec.raw_control_of(raw, message.headers)
        if barrier_id is not None:
            barriers.append((barrier_id, partition))
            continue
        outcome = ingest_one(raw, cfg, received)
        if isinstance(outcome, DeadLetter):
            dead.append(reject(rt, raw, outcome, f"{topic}/{partition}/{message.offset}", message, received))
            continue
        outcome["ingested_at"] = received
        valid[partition_of(outcome["event_id"], count)].append(outcome)
    if valid:
        latest = max(e["occurred_at"] for events in valid.values() for e in events)
        highest[partition] = source_watermark(highest.get(partition, 0), latest, received)
    for target, events in valid.items():
        rt.send_events(rt.topics.valid.name, events, target, partition, highest[partition])
    rt.send_rows("dead_letters", dead, partition)
    rt.stats.ingested += sum(len(v) for v in valid.values())
    return barriers


def reject(rt: Runtime, raw: bytes, dead: DeadLetter, source: str,
           message: Record, received: int) -> dict[str, Any]:
    """Quarantine the exact bytes on the DLQ topic (of a message cut before Kafka, the head it
    came with, and its real size: pipeline/ingest/oversized.py); the masked copy becomes a
    fact row."""
    came_with = dict(message.headers or ())
    size = oversized.declared_size(came_with)
    dead = oversized.reason(dead, size, len(raw))
    rt.stats.rejected[dead.code] += 1
    headers = [("reason", dead.reason.encode()[:512]), ("source", source.encode())]
    if size is not None:
        headers.append((oversized.HEADER, str(size).encode()))
    produce(rt.producer, rt.topics.dlq.name, raw, partition=0, key=message.key, headers=headers)
    replay_id = came_with.get(REPLAY_HEADER, b"").decode(errors="replace")
    return dead_letter_row(received, source, masked_through_escapes(dead.reason), dead_letter_text(raw), replay_id)
