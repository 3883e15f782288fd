"""Thin Faust agent around identity logic: validated events -> events with a person.

Topic `parcours.events.valid` is partitioned by event_id (exact de-duplication); the identity
graph is replicated in every worker (see follower.py), so any partition can be resolved here.
State: `seen` (recent event ids) per partition, in memory; the graph is rebuilt from the
links topic on start.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from collections.abc import Sequence

import faust
from faust.types import EventT

from pipeline import codec
from pipeline.barrier import BarrierTracker
from pipeline.facts.rows import identity_row, person_merge_row
from pipeline.identity.graph import Remap
from pipeline.identity.logic import Resolved, resolve
from pipeline.ingest.dedupe import RecentIds
from pipeline.kafka import flush_async
from pipeline.runtime import Runtime, now_ms
from pipeline.topics import partition_of

log = logging.getLogger(__name__)

#: Kafka messages (each a batch of events) an agent takes at once, and how long it waits to fill.
TAKE = 64
TAKE_WITHIN_S = 0.02


def register(app: faust.App, rt: Runtime) -> Any:
    topic = app.topic(rt.topics.valid.name, value_serializer="raw", key_serializer="raw")
    seen: dict[int, RecentIds] = defaultdict(RecentIds)
    barriers: dict[int, BarrierTracker] = defaultdict(lambda: BarrierTracker(rt.topics.raw.partitions))

    def handle(partition: int, messages: list[dict[str, Any]]) -> None:
        events = [e for m in messages if m["t"] == "events" for e in m["events"]]
        if events:
            publish(rt, partition, resolve(rt.graph, seen[partition], events))
        for message in messages:
            if message["t"] == "barrier" and barriers[partition].arrive(message["id"], message["origin"]):
                log.debug("barrier %s passed identity partition %d", message["id"], partition)
                rt.broadcast(rt.topics.by_person.name, rt.topics.by_person.partitions,
                             codec.barrier(message["id"], "identity", partition))

    @app.agent(topic, name="parcours.identity")
    async def identity(stream: faust.StreamT[bytes]) -> None:
        async for batch in stream.take_events(TAKE, within=TAKE_WITHIN_S):
            for partition, messages in by_partition(batch).items():
                handle(partition, messages)
            await flush_async(rt.producer)

    return identity


def by_partition(batch: Sequence[EventT]) -> dict[int, list[dict[str, Any]]]:
    """Faust events -> decoded messages per partition, in offset order.

    Events and barriers may share a take: a barrier is handled after the events of its
    partition that precede it, which is all that its guarantee needs (everything *before*
    it has been produced when it is forwarded)."""
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for event in batch:
        out[event.message.partition].append(codec.decode(event.value))
    return out


def publish(rt: Runtime, partition: int, resolved: Resolved) -> None:
    rt.stats.duplicates += resolved.duplicates
    rt.stats.resolved += len(resolved.events)
    publish_remaps(rt, resolved.remaps, partition)
    rt.send_by_person(resolved.events)
    rt.send_rows("identities", [identity_row(n, ms) for n, ms in resolved.new_identifiers], partition)
    if resolved.links:
        rt.send(rt.topics.links.name, codec.encode({"t": "links", "links": resolved.links}),
                partition % rt.topics.links.partitions)


def publish_remaps(rt: Runtime, remaps: list[Remap], spread: int) -> None:
    """Record merges for the views and tell the sessions stage to move the merged sessions."""
    if not remaps:
        return
    rt.stats.merges += len(remaps)
    at = now_ms()
    rt.send_rows("person_merges", [person_merge_row(r, at) for r in remaps], spread)
    count = rt.topics.by_person.partitions
    by_partition: dict[int, list[list[str]]] = defaultdict(list)
    for remap in remaps:
        by_partition[partition_of(remap.from_person, count)].append([remap.from_person, remap.to_person])
    for target, pairs in by_partition.items():
        rt.send(rt.topics.by_person.name, codec.encode({"t": "merge", "remaps": pairs}), target)
