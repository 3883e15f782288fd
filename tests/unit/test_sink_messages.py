"""What the sink buffers from each kind of facts message: the documents of current workers as
they are, and the same document made from the messages of older workers (columns, rows)."""

from __future__ import annotations

from aiokafka import TopicPartition

from pipeline import codec
from pipeline.facts.tables import columns_of, json_columns
from pipeline.sink.edge import SinkEdge
from pipeline.stats import Stats
from pipeline.topics import topics

ROWS = [{"from_session": f"s{i}", "to_session": "s0", "to_order": "0:s0", "merged_at": 1_794_124_444_837 + i}
        for i in range(3)]
TP = TopicPartition("parcours.facts", 0)


def sink() -> SinkEdge:
    return SinkEdge("127.0.0.1:1", None, topics(), Stats())  # type: ignore[arg-type]


def buffered(edge: SinkEdge) -> tuple[bytes, int]:
    return b"".join(edge._buffer["session_merges"]), edge._counts["session_merges"]


def test_every_kind_of_facts_message_buffers_the_same_document() -> None:
    document = json_columns("session_merges", columns_of("session_merges", ROWS))
    messages = [
        codec.facts("session_merges", 3, document),
        codec.encode({"t": "columns", "table": "session_merges", "n": 3,
                      "columns": columns_of("session_merges", ROWS)}),
        codec.encode({"t": "rows", "table": "session_merges", "rows": ROWS}),
    ]
    for message in messages:
        edge = sink()
        edge._take(TP, message)
        assert buffered(edge) == (document, 3)


def test_documents_are_kept_in_arrival_order_and_barriers_are_not_rows() -> None:
    edge = sink()
    first, second = (json_columns("session_merges", columns_of("session_merges", [row])) for row in ROWS[:2])
    edge._take(TP, codec.facts("session_merges", 1, first))
    edge._take(TP, codec.barrier("b1", "sessions", 0))
    edge._take(TP, codec.facts("session_merges", 1, second))
    assert buffered(edge) == (first + second, 2)
    assert edge._rows() == 2
