"""Replicates the identity graph: every worker reads every partition of the links topic.

strategy: links (identifier groups that changed some worker's graph) are few next to events,
so each worker applies all of them to its own graph. Union is order-independent and the
person id is a function of the component, so all workers converge to the same persons
whatever order the links arrive in; merges a worker discovers this way are recorded like
local ones (the ClickHouse key collapses the copies). Own links come back too: a no-op.
The links topic is also the graph's changelog: a (re)started worker reads it from the
beginning, and its identity agent waits until the graph has caught up (`rt.graph_ready`).

Versions of remaps (person_merges: the latest wins) are Lamport clocks: each links message
carries its sender's version `k`, and a worker that reads one counts on from at least `k`, so
a decision made after seeing another's outranks it. A restarted worker starts above anything
its previous life can have written (some of it still in flight to ClickHouse): the highest `k`
on the topic, plus the edges rebuilt (the previous life may have counted remote edges after its
last message), plus one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiokafka import TopicPartition

from pipeline import codec
from pipeline.edge_consumer import EdgeConsumer
from pipeline.identity.agent import publish_changes
from pipeline.identity.history import Published
from pipeline.identity.logic import apply_remote
from pipeline.kafka import BACKGROUND_FETCH_WAIT_MS, consumer
from pipeline.runtime import Runtime

log = logging.getLogger(__name__)


async def follow(rt: Runtime, stopping: asyncio.Event, restored: Callable[[], Published] | None = None) -> None:
    """`restored` reads the mapping the views follow (history.py), when this process has
    ClickHouse: adopted once the graph has caught up, before any event is resolved, so the
    anchors facts were written with follow their persons again (the graph rebuilt from links
    does not know which anchors were handed out)."""
    cons = consumer(rt.bootstrap, None, fetch_wait_ms=BACKGROUND_FETCH_WAIT_MS)
    await cons.start()
    try:
        name = rt.topics.links.name
        partitions = [TopicPartition(name, p) for p in range(rt.topics.links.partitions)]
        cons.assign(partitions, from_beginning=True)
        ends = await cons.end_offsets(partitions)
        highest = 0  # the highest `k` read while the graph is rebuilt
        while not stopping.is_set():
            if not rt.graph_ready.is_set() and await at_end(cons, ends):
                log.info("identity graph restored from the links topic: %d identifiers", len(rt.graph))
                rt.graph.handed_out_all()
                rt.graph.knowledge += highest + 1
                if restored is not None:
                    (await asyncio.to_thread(restored)).adopt(rt)
                    await rt.flush_outputs()
                rt.graph_ready.set()
            batch = await cons.getmany(timeout_ms=100, max_records=10_000)
            if not batch:  # an empty poll is no batch: it would crowd the latency histogram
                continue
            with rt.stats.timed("identity_follower"):
                for tp, messages in batch.items():
                    for message in messages:
                        decoded = codec.decode(message.value)
                        if rt.graph_ready.is_set():
                            rt.graph.knowledge = max(rt.graph.knowledge, decoded.get("k", 0))
                        else:
                            highest = max(highest, decoded.get("k", 0))
                        if decoded["t"] == "forget":  # `parcours forget`: an erasure, on every partition
                            changes = rt.graph.forget(decoded["keys"])
                        else:
                            changes = apply_remote(rt.graph, decoded["links"])
                        publish_changes(rt, changes, tp.partition, local=False)
            if batch:  # awaited: a blocking flush would hold every stage until all acks came back
                await rt.flush_outputs()
    finally:
        await cons.stop()


async def at_end(cons: EdgeConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await cons.position(tp) < end:
            return False
    return True
