"""The sink marks a barrier complete on a facts partition once every sessions partition's copy
is in ClickHouse, whichever sink consumed which copy: a sink that restarts, or takes the
partition over, resumes past the copies the previous one consumed and committed."""

from __future__ import annotations

from typing import Any

from aiokafka import TopicPartition

from pipeline import codec
from pipeline.sink.edge import SinkEdge
from pipeline.stats import Stats
from pipeline.topics import topics


def sink(clickhouse: Any) -> SinkEdge:
    return SinkEdge("127.0.0.1:1", clickhouse, topics(), Stats())


def completed(clickhouse: Any, barrier_id: str) -> list[int]:
    rows = clickhouse.query("SELECT partition FROM parcours.pipeline_barriers FINAL WHERE barrier_id = {b:String} "
                            "ORDER BY partition", parameters={"b": barrier_id}).result_rows
    return [p for (p,) in rows]


def take(edge: SinkEdge, barrier_id: str, partition: int, origins: list[int]) -> None:
    tp = TopicPartition(topics().facts.name, partition)
    for origin in origins:
        edge._take(tp, codec.barrier(barrier_id, "sessions", origin))
    edge._insert_all()


def test_a_barrier_completes_across_a_sink_restart(clickhouse: Any) -> None:
    origins = list(range(topics().by_person.partitions))
    first = sink(clickhouse)
    take(first, "restart-1", 0, origins[:1])
    take(first, "restart-1", 1, origins)  # complete here already
    assert completed(clickhouse, "restart-1") == [1]
    second = sink(clickhouse)  # the first died; its copies were committed
    take(second, "restart-1", 0, origins[1:] + origins[:1])  # one copy again: read twice, counted once
    assert completed(clickhouse, "restart-1") == [0, 1]
    assert second.reached == {("restart-1", 0), ("restart-1", 1)}  # what /barriers answers
    (count,) = clickhouse.query("SELECT count() FROM parcours.pipeline_barriers WHERE barrier_id = 'restart-1'"
                                ).result_rows[0]
    assert count == 2  # partition 1 is not marked a second time


def test_an_incomplete_barrier_is_not_marked(clickhouse: Any) -> None:
    origins = list(range(topics().by_person.partitions))
    edge = sink(clickhouse)
    take(edge, "partial-1", 2, origins[:-1] + origins[:1])
    assert completed(clickhouse, "partial-1") == []
    take(sink(clickhouse), "partial-1", 3, origins[-1:])  # the missing copy, but on another partition
    assert completed(clickhouse, "partial-1") == []
