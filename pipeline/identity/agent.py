"""Thin Faust agent around identity logic: validated events -> events with a person.

Topic `parcours.events.valid` is partitioned by event_id (exact de-duplication); the identity
graph is replicated in every worker (see follower.py), so any partition can be resolved here.
State: `seen` (recent event ids) per partition, in memory; the graph is rebuilt from the
links topic on start.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import faust
from faust.types import TP, EventT

from pipeline import codec
from pipeline.barrier import BarrierTracker
from pipeline.facts.rows import graph_rows, identity_row, person_merge_row
from pipeline.identity.changes import Changes
from pipeline.identity.logic import Resolved, resolve, wire_links
from pipeline.ingest.dedupe import RecentIds
from pipeline.runtime import Runtime, now_ms
from pipeline.topics import partition_of
from pipeline.watermark import LowWatermark

log = logging.getLogger(__name__)

#: Kafka messages (each a batch of events) an agent takes at once, and how long it waits to fill.
TAKE = 64
TAKE_WITHIN_S = 0.02


def register(app: faust.App, rt: Runtime) -> Any:
    topic = app.topic(rt.topics.valid.name, value_serializer="raw", key_serializer="raw")
    seen: dict[int, RecentIds] = defaultdict(RecentIds)
    barriers: dict[int, BarrierTracker] = defaultdict(lambda: BarrierTracker(rt.topics.raw.partitions))
    upstream: dict[int, LowWatermark] = {}

    def handle(partition: int, messages: list[dict[str, Any]]) -> None:
        now = time.monotonic()
        raw = upstream.get(partition) or upstream.setdefault(partition, LowWatermark(rt.topics.raw.partitions, now))
        events = []
        for message in messages:
            if message["t"] == "events":
                events += message["events"]
                if "o" in message:
                    raw.report(message["o"], message["wm"], now)
        if events:
            publish(rt, partition, resolve(rt.graph, seen[partition], events), raw.low(now))
        for message in messages:
            if message["t"] == "barrier" and barriers[partition].arrive(message["id"], message["origin"]):
                log.debug("barrier %s passed identity partition %d", message["id"], partition)
                rt.broadcast(rt.topics.by_person.name, rt.topics.by_person.partitions,
                             codec.barrier(message["id"], "identity", partition))

    @app.agent(topic, name="parcours.identity")
    async def identity(stream: faust.StreamT[bytes]) -> None:
        await rt.graph_ready.wait()  # resolving against a half-restored graph would mint wrong persons
        async for batch in stream.take_events(TAKE, within=TAKE_WITHIN_S):
            with rt.stats.timed("identity"):
                for partition, messages in by_partition(batch).items():
                    handle(partition, messages)
            with rt.stats.timed("identity_wait_acks"):
                await rt.flush_outputs()

    held: set[TP] | None = None  # the agents' partitions this worker was last assigned

    @app.on_partitions_assigned.connect
    async def on_assigned(app: faust.App, assigned: set[TP], **_: Any) -> None:
        """A rebalance after this worker's first assignment that gives it partitions it did not
        hold: another worker left (or died). Which anchors that worker handed out to facts,
        and so re-attributed when their persons changed, died with it: the follower restates
        them all (follower.restate)."""
        nonlocal held
        names = {rt.topics.valid.name, rt.topics.by_person.name}
        now = {tp for tp in assigned if tp.topic in names}
        if held is not None and now - held:
            log.info("identity: took over %s; every anchor is restated once the links topic is read",
                     sorted(f"{tp.topic}[{tp.partition}]" for tp in now - held))
            rt.taken_over.set()
        held = now

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


def publish(rt: Runtime, partition: int, resolved: Resolved, watermark: int | None = None) -> None:
    """`watermark`: the partition's low watermark over the raw partitions, when the events
    come from the valid partition `partition`."""
    rt.stats.duplicates += resolved.duplicates
    rt.stats.resolved += len(resolved.events)
    publish_changes(rt, resolved.changes, partition, local=True)
    if watermark is None:
        rt.send_by_person(resolved.events)
    else:
        rt.send_by_person(resolved.events, partition, watermark)
    rt.send_rows("identities", [identity_row(k, p, ms) for k, p, ms in resolved.new_identifiers], partition)


def publish_changes(rt: Runtime, changes: Changes, spread: int, local: bool) -> None:
    """Record what the graph learnt; links this worker found go to the other workers; merged
    persons' sessions are moved by the sessions stage, and a person split off another one
    (remapped to itself) gets its own sessions again."""
    at = now_ms()
    if local and changes.new_edges:  # "k": the version of this batch's remaps (follower.py)
        rt.send(rt.topics.links.name, codec.encode({"t": "links", "links": wire_links(changes),
                                                    "k": rt.graph.knowledge}),
                spread % rt.topics.links.partitions)
    for table, rows in graph_rows(changes, at).items():
        if table == "identity_refusals":  # one partition: a withdrawal is inserted after its refusal
            rt.send_rows(table, rows, 0)
        elif table != "identity_links" or local:
            rt.send_rows(table, rows, spread)
    rt.stats.refusals += len(changes.refusals)  # made (a counter): withdrawals are in ClickHouse
    rt.stats.shared += len(changes.shared)
    if local and changes.narrowed:  # their profiles are published again, without the identifier
        persons: dict[int, list[str]] = defaultdict(list)
        for person in changes.narrowed:
            persons[partition_of(person, rt.topics.by_person.partitions)].append(person)
        for target, chunk in persons.items():
            rt.send(rt.topics.by_person.name, codec.encode({"t": "refresh", "persons": chunk}), target)
    if not changes.remaps:
        return
    rt.stats.merges += len(changes.remaps)
    version = rt.graph.knowledge
    rt.send_rows("person_merges", [person_merge_row(r, at, version) for r in changes.remaps], spread)
    count = rt.topics.by_person.partitions
    by_partition: dict[int, list[list[str]]] = defaultdict(list)
    for remap in changes.remaps:  # to itself: a split, the sessions stage releases its forward
        by_partition[partition_of(remap.from_person, count)].append([remap.from_person, remap.to_person])
    for target, pairs in by_partition.items():
        rt.send(rt.topics.by_person.name, codec.encode({"t": "merge", "remaps": pairs}), target)
