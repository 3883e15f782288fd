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
last message), plus one. Once ready, it announces that count on the topic (a links message
without links), so that every row it writes is below `k` plus the records on the topic.

Takeover. Which anchors a worker handed out to facts is in its memory only (`_mapped`): each
worker re-attributes the anchors it handed out when their persons change. When a worker dies
its partitions move to a survivor, but its anchors would keep the last re-attribution it wrote:
a later merge (decided by the survivor) left them on the person merged away (an event carrying
only an email stayed on the CRM id's person after that CRM id logged in as a user), and a
re-attribution it wrote just before it read a link the survivor already knew stayed the latest.
So after a rebalance that gave it partitions (`rt.taken_over`), the survivor reads the links
topic to its end, treats every identifier as handed out, and restates the person of every one
at a version above anything the departed worker can have written (`restate`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiokafka import TopicPartition

from pipeline import codec
from pipeline.edge_consumer import EdgeConsumer
from pipeline.facts.rows import person_merge_row
from pipeline.identity.agent import TAKE, publish_changes
from pipeline.identity.history import Published
from pipeline.identity.logic import apply_remote
from pipeline.kafka import BACKGROUND_FETCH_WAIT_MS, consumer
from pipeline.runtime import CHUNK, Runtime, chunks, now_ms

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
        highest = 0  # the highest `k` read
        records = 0  # link groups and erasures read: each raised some worker's count by one at most
        takeover: dict[TopicPartition, int] | None = None  # the topic's ends when partitions were taken over
        while not stopping.is_set():
            if not rt.graph_ready.is_set() and await at_end(cons, ends):
                log.info("identity graph restored from the links topic: %d identifiers", len(rt.graph))
                rt.graph.handed_out_all()
                rt.graph.knowledge += highest + 1
                if restored is not None:
                    (await asyncio.to_thread(restored)).adopt(rt)
                announce(rt)
                await rt.flush_outputs()
                rt.graph_ready.set()
            if rt.graph_ready.is_set() and rt.taken_over.is_set():
                rt.taken_over.clear()  # a takeover meanwhile is read to its own ends
                takeover = await cons.end_offsets(partitions)
            if takeover is not None and await at_end(cons, takeover):
                takeover = None
                await restate(rt, highest + records)
            batch = await cons.getmany(timeout_ms=100, max_records=10_000)
            if not batch:  # an empty poll is no batch: it would crowd the latency histogram
                continue
            with rt.stats.timed("identity_follower"):
                for tp, messages in batch.items():
                    for message in messages:
                        decoded = codec.decode(message.value)
                        if rt.graph_ready.is_set():
                            rt.graph.knowledge = max(rt.graph.knowledge, decoded.get("k", 0))
                        highest = max(highest, decoded.get("k", 0))
                        if decoded["t"] == "forget":  # `parcours forget`: an erasure, on every partition
                            records += 1
                            changes = rt.graph.forget(decoded["keys"])
                        else:
                            records += len(decoded["links"])
                            changes = apply_remote(rt.graph, decoded["links"])
                        publish_changes(rt, changes, tp.partition, local=False)
            if batch:  # awaited: a blocking flush would hold every stage until all acks came back
                await rt.flush_outputs()
    finally:
        await cons.stop()


def announce(rt: Runtime) -> None:
    """This worker's count on the links topic: any worker that reads it counts on from above."""
    rt.send(rt.topics.links.name, codec.encode({"t": "links", "links": [], "k": rt.graph.knowledge}), 0)


#: Link groups a worker can have learnt without their message reaching the links topic: one
#: take of the identity agent (its outputs are acknowledged before the next take).
UNSENT = TAKE * CHUNK
#: Rows per facts message batch of a restatement, between which other stages run.
RESTATE_CHUNK = 50_000


async def restate(rt: Runtime, bound: int) -> int:
    """After a takeover, the links topic read to its end: every identifier is treated as
    handed out (a departed worker handed out some that no survivor did), and its current
    person is written at a version above any row the departed worker can have written. That
    worker's count was at most the highest `k` on the topic plus the records it learnt since,
    plus one take whose links it never sent (`bound` is the first two; see `announce`)."""
    graph = rt.graph
    graph.handed_out_all()
    graph.knowledge = max(graph.knowledge, bound + UNSENT) + 1
    version, at, remaps = graph.knowledge, now_ms(), graph.restatement()
    for number, chunk in enumerate(chunks(remaps, RESTATE_CHUNK)):
        rt.send_rows("person_merges", [person_merge_row(r, at, version) for r in chunk], number)
        await asyncio.sleep(0)  # the stages go on; what changes meanwhile is remapped above `version`
    announce(rt)
    await rt.flush_outputs()
    log.info("identity: partitions taken over: the person of %d identifiers restated at version %d",
             len(remaps), version)
    return len(remaps)


async def at_end(cons: EdgeConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await cons.position(tp) < end:
            return False
    return True
