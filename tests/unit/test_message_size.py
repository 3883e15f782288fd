"""Internal messages stay under a broker's limit: a chunk of big events or of dead letters (a
file of over-size lines: each keeps up to 64 Ki characters) is split until each message fits
MAX_MESSAGE_BYTES. 1 200 such lines made a 16 MB+ facts message that stopped the ingest stage
(MSG_SIZE_TOO_LARGE) on the embedded broker, and far fewer would on a cluster's 1 MB default."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import orjson

from pipeline import codec
from pipeline.facts.rows import dead_letter_row
from pipeline.runtime import CHUNK, MAX_MESSAGE_BYTES, fitted
from tests.conftest import fact_columns
from tests.unit.recording import person_event, recording_runtime


def test_a_chunk_that_fits_is_encoded_once() -> None:
    calls: list[int] = []

    def encode(items: list[int]) -> bytes:
        calls.append(len(items))
        return orjson.dumps(items)

    assert fitted(list(range(CHUNK)), encode) == [orjson.dumps(list(range(CHUNK)))]
    assert calls == [CHUNK]


def test_a_chunk_too_big_is_halved_in_order_and_a_single_item_is_kept_whole() -> None:
    items = [b"x" * 300_000] * 5 + [b"y" * (MAX_MESSAGE_BYTES + 1)]
    messages = fitted(items, b"".join)
    assert b"".join(messages) == b"".join(items)
    assert all(len(m) <= MAX_MESSAGE_BYTES for m in messages[:-1]) and len(messages[-1]) == MAX_MESSAGE_BYTES + 1


def test_dead_letters_of_over_size_lines_make_messages_under_the_limit(tmp_path: Path) -> None:
    rt = recording_runtime(tmp_path)
    raw = base64.b64encode(os.urandom(49_152)).decode()  # 64 Ki characters that do not compress
    rows = [dead_letter_row(0, f"parcours.events.raw/0/{i}", "oversized: 70000 bytes > 65536", raw, "r")
            for i in range(300)]
    rt.send_rows("dead_letters", rows, 0)
    sent = [kwargs["value"] for _, kwargs in rt.producer.sent]  # type: ignore[attr-defined]
    assert len(sent) > 1 and all(len(m) <= MAX_MESSAGE_BYTES for m in sent)
    decoded = [fact_columns(m) for m in sent]
    assert sum(len(columns["source"]) for _, columns in decoded) == 300  # type: ignore[misc]
    assert {table for table, _ in decoded} == {"dead_letters"}  # type: ignore[misc]


def test_big_events_make_messages_under_the_limit(tmp_path: Path) -> None:
    rt = recording_runtime(tmp_path)
    blob = base64.b64encode(os.urandom(45_000)).decode()
    events = [person_event(f"e{i}", "p1", 1_794_124_444_837 + i, properties={"blob": blob}, session_id="s1")
              for i in range(200)]
    rt.send_events("parcours.events.valid", events, 0, origin=1, watermark=5)
    sent = [kwargs["value"] for _, kwargs in rt.producer.sent]  # type: ignore[attr-defined]
    assert len(sent) > 1 and all(len(m) <= MAX_MESSAGE_BYTES for m in sent)
    assert [e["event_id"] for m in sent for e in codec.decode(m)["events"]] == [f"e{i}" for i in range(200)]
    rt.producer.sent.clear()  # type: ignore[attr-defined]
    rt.send_event_rows(events, 2)
    rows = [kwargs for _, kwargs in rt.producer.sent]  # type: ignore[attr-defined]
    assert len(rows) > 1 and all(len(r["value"]) <= MAX_MESSAGE_BYTES for r in rows)
    assert sum(len(fact_columns(r["value"])[1]["event_id"]) for r in rows) == 200  # type: ignore[index]
