"""The identity graph's history on a broker that keeps none (the embedded, memory-only one).

strategy: the links topic is the graph's changelog: a (re)started worker reads it from the
beginning (follower.py). The embedded broker starts empty on every run, so a second `parcours
replay` into the same data directory began with an empty graph: the first run's links were
unknown, a refusal that depended on them went the other way, and the views mixed the first
run's anchor -> person rows with the second's (their versions count different histories).
ClickHouse keeps the evidence: identity_links holds every group that changed a graph
(erasures delete theirs). So before the follower starts (the process that started the broker
owns the embedded ClickHouse), those groups are produced back onto the links topic in event
time, and the follower rebuilds the graph from them as after any restart. Once it has, the
graph adopts the mapping the views follow (person_map), remaps what the evidence now says
otherwise, and counts its versions from above every one on record. An identifier the restored
graph knows is never new to it again, so the identities rows a killed run did not write are
written here, from the same evidence.

A worker restarted on a broker that kept its topics adopts the mapping too: the graph rebuilt
from the links does not know which anchors the previous life handed out to facts, so a later
merge would leave their rows pointing at a person merged away. It first waits until the sink
has written what was still on the facts topic (the previous life's last remaps among it).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from clickhouse_connect.driver.client import Client
from confluent_kafka import Consumer, TopicPartition

from pipeline import codec
from pipeline.identity.agent import publish
from pipeline.identity.logic import Resolved
from pipeline.kafka import flush
from pipeline.runtime import CHUNK, Runtime, chunks
from pipeline.sink.clickhouse import query_rows
from pipeline.sink.edge import GROUP as SINK_GROUP
from pipeline.topics import Topic

log = logging.getLogger(__name__)

SQL = Path(__file__).parent / "sql"


def replay_links(rt: Runtime, client: Client) -> int:
    """Produce the recorded link groups onto the (empty) links topic; returns how many."""
    rows = query_rows(client, (SQL / "links.sql").read_text())
    topic = rt.topics.links
    for number, chunk in enumerate(chunks([[list(keys), at, event_id] for keys, at, event_id in rows], CHUNK)):
        rt.send(topic.name, codec.encode({"t": "links", "links": chunk}), number % topic.partitions)
    flush(rt.producer)
    if rows:
        log.info("identity graph: %d link groups recorded in ClickHouse put back on %s", len(rows), topic.name)
    return len(rows)


#: Seconds a restarted worker waits for the sink to write the facts already on the topic.
DRAIN_TIMEOUT_S = 60.0


def facts_written(bootstrap: str, facts: Topic, timeout_s: float = DRAIN_TIMEOUT_S) -> bool:
    """Until the sinks have committed every facts partition up to its end as of now: the
    previous life's rows still in flight (its last remaps) are then in ClickHouse, where
    `Published` reads them. False after `timeout_s` (no sink running, ClickHouse refusing)."""
    cons = Consumer({"bootstrap.servers": bootstrap, "group.id": SINK_GROUP, "enable.auto.commit": False})
    try:
        partitions = [TopicPartition(facts.name, p) for p in range(facts.partitions)]
        ends = {tp.partition: cons.get_watermark_offsets(tp, timeout=10)[1] for tp in partitions}
        deadline, told = time.monotonic() + timeout_s, False
        while True:
            done = {tp.partition: max(tp.offset, 0) for tp in cons.committed(partitions, timeout=10)}
            behind = sum(max(0, end - done[p]) for p, end in ends.items())
            if not behind:
                return True
            if time.monotonic() > deadline:
                log.warning("the sink has not written %d facts messages after %.0fs: the published mapping "
                            "is read without them (is ClickHouse up? does any worker run the sink?)",
                            behind, timeout_s)
                return False
            if not told:
                log.info("waiting for the sink to write %d facts messages of the previous run before "
                         "reading the published mapping", behind)
                told = True
            time.sleep(0.2)
    finally:
        cons.close()


class Published:
    """The mapping the views follow, read before the follower rebuilds the graph."""

    def __init__(self, client: Client) -> None:
        rows = query_rows(client, (SQL / "published.sql").read_text())
        self.mapping = {anchor: person for anchor, person, _ in rows}
        self.latest = max((int(latest or 0) for _, _, latest in rows), default=0)
        self.unrecorded = query_rows(client, (SQL / "unrecorded.sql").read_text())

    def adopt(self, rt: Runtime) -> int:
        """Once the graph is rebuilt: take the mapping over and correct it (versions from above
        every one on record), and record the identifiers that have no row, through the same
        publication as resolved events. Returns the anchors remapped."""
        rt.graph.knowledge += self.latest
        restored = Resolved()
        restored.changes.remaps += rt.graph.adopt(self.mapping)
        remapped = len(restored.changes.remaps)
        for key, at in rt.graph.sighted({key: int(at) for key, at in self.unrecorded}):
            restored.new_identifiers.append((key, rt.graph.hand_out(key, restored.changes), at))
        publish(rt, 0, restored)
        if remapped or restored.new_identifiers:
            log.info("identity graph: %d anchors remapped by the recorded links, %d identifiers of "
                     "recorded links had no identities row", remapped, len(restored.new_identifiers))
        return remapped
