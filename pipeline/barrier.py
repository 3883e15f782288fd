"""End-of-input barriers, so `replay` knows when every event has reached ClickHouse.

strategy: like Flink's checkpoint barriers. `replay` writes a control message after its input
on every raw partition. Each stage, once it has seen the barrier from *every* upstream
partition (so everything before it on every input has been processed and produced), sends it
on to every downstream partition. The sessions stage also exchanges it with its peers (they
hand sessions to each other) and then flushes open sessions. The sink records the barrier per
facts partition in ClickHouse once the rows before it are written; `replay` waits for all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from clickhouse_connect.driver.client import Client
from confluent_kafka import Producer

from pipeline import codec
from pipeline.kafka import produce
from pipeline.sink.clickhouse import query_rows
from pipeline.topics import Topic


def send_end_of_input(producer: Producer, raw: Topic, barrier_id: str) -> None:
    """A barrier on every raw partition, after everything this producer sent before it
    (the caller flushes). Replays, the bench and the tests mark the end of their input so."""
    for partition in range(raw.partitions):
        produce(producer, raw.name, codec.raw_control(barrier_id), partition=partition,
                headers=[(codec.RAW_CONTROL_HEADER, b"barrier")])


def partitions_past(client: Client, barriers: list[str]) -> int:
    """Facts partitions the sinks have recorded past the furthest of `barriers` (a waiter
    sends a new barrier when one got lost, and takes whichever completes)."""
    rows = query_rows(client, "SELECT max(n) FROM (SELECT uniqExact(partition) AS n FROM parcours.pipeline_barriers "
                              "WHERE barrier_id IN {b:Array(String)} GROUP BY barrier_id)", {"b": barriers})
    return int(rows[0][0] or 0)


@dataclass
class BarrierTracker:
    """Counts barrier copies per id from distinct upstream origins."""

    expected: int
    seen: dict[str, set[int]] = field(default_factory=dict)

    def arrive(self, barrier_id: str, origin: int) -> bool:
        """True exactly once: when the last expected origin's copy arrives."""
        origins = self.seen.setdefault(barrier_id, set())
        if origin in origins:
            return False
        origins.add(origin)
        if len(origins) == self.expected:
            self.seen[barrier_id] = set(range(self.expected + 1))  # never fires again
            return True
        return False
