"""pipeline/ingest/oversized.py: raw input too big for Kafka goes on as its marked head, and
ingest turns that head into the same `oversized` dead letter the whole line would have made.
End to end (a 17 MB line through `parcours replay`): tests/integration/test_replay.py."""

from __future__ import annotations

from pathlib import Path

import orjson

from pipeline.edge_consumer import Record
from pipeline.ingest import oversized
from pipeline.ingest.edge import REPLAY_HEADER, reject
from pipeline.ingest.logic import MAX_BYTES, IngestConfig, ingest_one
from pipeline.ingest.outcomes import DeadLetter
from pipeline.ingest.pii import dead_letter_text
from tests.unit.recording import recording_runtime

LINE = orjson.dumps({"event_id": "big", "identifiers": {"email": "jane.doe@example.com"},
                     "properties": {"blob": "x" * 2_000_000, "tail": "+33 6 12 34 56 78"}})


def test_a_head_stays_oversized_and_under_a_brokers_default_limit() -> None:
    assert MAX_BYTES < oversized.HEAD_BYTES < 1_000_000


def test_a_line_that_fits_goes_whole_and_unmarked() -> None:
    small = b"x" * oversized.HEAD_BYTES
    assert oversized.cut(small) == (small, [])


def test_a_longer_line_goes_as_its_head_with_its_real_size() -> None:
    head, headers = oversized.cut(LINE)
    assert head == LINE[:oversized.HEAD_BYTES]
    assert headers == [(oversized.HEADER, str(len(LINE)).encode())]
    assert oversized.declared_size(dict(headers)) == len(LINE)
    assert oversized.declared_size({}) is None and oversized.declared_size({oversized.HEADER: b"junk"}) is None
    # ingest rejects the head as it would the line, and dead_letters keeps the same text
    dead = ingest_one(head, IngestConfig.build(b"tests"))
    assert isinstance(dead, DeadLetter) and dead.code == "oversized"
    assert dead_letter_text(head) == dead_letter_text(LINE)


def test_ingest_names_the_real_size_and_keeps_the_mark_on_the_dlq(tmp_path: Path) -> None:
    rt = recording_runtime(tmp_path)
    head, marks = oversized.cut(LINE)
    record = Record("parcours.events.raw", 1, 7, None, head, [(REPLAY_HEADER, b"r1"), *marks])
    dead = ingest_one(head, IngestConfig.build(b"tests"))
    assert isinstance(dead, DeadLetter)
    row = reject(rt, head, dead, "parcours.events.raw/1/7", record, 0)
    assert row["reason"] == (f"oversized: {len(LINE)} bytes > {MAX_BYTES} "
                             f"(cut to its first {oversized.HEAD_BYTES} bytes before Kafka)")
    assert row["replay_id"] == "r1" and "jane.doe" not in row["raw"] and len(row["raw"]) == 65_536
    ((topic, sent),) = rt.producer.sent  # type: ignore[attr-defined]
    assert topic == "parcours.events.dlq" and sent["value"] == head
    assert dict(sent["headers"])[oversized.HEADER] == str(len(LINE)).encode()
    assert rt.stats.rejected["oversized"] == 1


def test_a_whole_oversized_message_keeps_its_reason(tmp_path: Path) -> None:
    rt = recording_runtime(tmp_path)
    whole = b'{"blob": "' + b"x" * 70_000 + b'"}'
    dead = ingest_one(whole, IngestConfig.build(b"tests"))
    assert isinstance(dead, DeadLetter)
    row = reject(rt, whole, dead, "parcours.events.raw/0/1", Record("t", 0, 1, None, whole, None), 0)
    assert row["reason"] == f"oversized: {len(whole)} bytes > {MAX_BYTES}"
    ((_, sent),) = rt.producer.sent  # type: ignore[attr-defined]
    assert oversized.HEADER not in dict(sent["headers"])
