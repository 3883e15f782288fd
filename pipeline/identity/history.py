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
"""

from __future__ import annotations

import logging
from pathlib import Path

from clickhouse_connect.driver.client import Client

from pipeline import codec
from pipeline.identity.agent import publish
from pipeline.identity.logic import Resolved
from pipeline.kafka import flush
from pipeline.runtime import CHUNK, Runtime, chunks
from pipeline.sink.clickhouse import query_rows

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
