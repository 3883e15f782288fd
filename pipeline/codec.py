"""Internal messages: one Kafka message carries a *batch* (hundreds to thousands of events),
so Faust's per-message cost is paid per batch. Every message is an orjson object with a type
tag `t`:

  events    {"t": "events", "events": [Event, ...]}
  barrier   {"t": "barrier", "id": str, "stage": str, "origin": int}
  merge     {"t": "merge", "remaps": [[from_person, to_person], ...]}          (by_person)
            (from_person == to_person: a split, the person is its own again)
  handovers {"t": "handovers", "handovers": [Handover, ...]}                     (by_person)
            Handover: {"person": str, "sessions": [Session.to_wire, ...], "profile": Profile.fields | null}
  handover  {"t": "handover", **Handover}        (by_person, workers before 2026-12-07: still read)
  links     {"t": "links", "links": [[event_id, [key, ...]], ...]}           (identity links)
  forget    {"t": "forget", "keys": [key, ...], "person": str}              (identity links, every partition)
  forget    {"t": "forget", "person": str}                                  (by_person: drop sessions, profile)
  refresh   {"t": "refresh", "persons": [str, ...]}    (by_person: publish their profiles again)
  facts     {"t": "facts", "table": str, "n": int} NEWLINE {name: [value, ...], ...}      (facts)
            (after the header line, a ClickHouse JSONColumns document: facts/tables.py)
  columns   {"t": "columns", "table": str, "n": int, "columns": {name: [value, ...]}}   (facts,
            workers before 2026-12-07: still read)
  rows      {"t": "rows", "table": str, "rows": [row, ...]}    (facts, older workers: still read)
"""

from __future__ import annotations

from typing import Any

import orjson

Message = dict[str, Any]

#: Raw-topic control message written by `parcours replay` after the input: it marks the end of
#: the input on that partition. External producers never send it.
CONTROL_KEY = "__parcours_control__"


def encode(message: Message) -> bytes:
    return orjson.dumps(message)


def decode(payload: bytes) -> Message:
    message = orjson.loads(payload)
    if not isinstance(message, dict) or "t" not in message:
        raise ValueError("not a Parcours internal message")
    return message


def events(batch: list[dict[str, Any]], origin: int | None = None, watermark: int = 0) -> bytes:
    """`origin` (the upstream partition) and its `watermark` ride along (pipeline/watermark.py)."""
    if origin is None:
        return encode({"t": "events", "events": batch})
    return encode({"t": "events", "events": batch, "o": origin, "wm": watermark})


def barrier(barrier_id: str, stage: str, origin: int) -> bytes:
    return encode({"t": "barrier", "id": barrier_id, "stage": stage, "origin": origin})


def facts(table: str, count: int, document: bytes) -> bytes:
    """`count` rows of `table` as a JSONColumns document behind a one-line header: the sink
    reads the header only (orjson never writes a raw newline) and inserts the document as it is."""
    return encode({"t": "facts", "table": table, "n": count}) + b"\n" + document


def header_and_document(payload: bytes) -> tuple[Message, memoryview | None]:
    """A facts message's header and document; any other message decoded, and None."""
    newline = payload.find(b"\n")
    if newline < 0:
        return decode(payload), None
    return decode(payload[:newline]), memoryview(payload)[newline + 1:]


#: Bytes of encoded hand-overs per message: far under Kafka's default 1 MB message limit.
HANDOVER_BYTES = 256 * 1024


def handovers(items: list[bytes]) -> list[bytes]:
    """Encoded hand-overs (`encode`d objects) joined into as few messages as fit HANDOVER_BYTES
    (one item larger than that gets a message of its own), in order."""
    messages, part, size = [], [], 0
    for item in items:
        if part and size + len(item) > HANDOVER_BYTES:
            messages.append(part)
            part, size = [], 0
        part.append(item)
        size += len(item) + 1
    if part:
        messages.append(part)
    return [b'{"t":"handovers","handovers":[' + b",".join(each) + b"]}" for each in messages]


def raw_control(barrier_id: str) -> bytes:
    return encode({CONTROL_KEY: "barrier", "id": barrier_id})


#: The header Parcours' own barriers carry on the raw topic (pipeline/barrier.py). Producers of
#: events write there too: a message of theirs that merely starts like a barrier is input.
RAW_CONTROL_HEADER = "parcours-control"


def raw_control_of(raw: bytes, headers: list[tuple[str, bytes]] | None) -> str | None:
    """The barrier id of a raw-topic message Parcours sent as a barrier, else None."""
    if not headers or not any(name == RAW_CONTROL_HEADER for name, _ in headers):
        return None
    return control_of(raw)


def control_of(raw: bytes) -> str | None:
    """The barrier id if `raw` is a replay control message, else None (cheap prefix test)."""
    if not raw.startswith(b'{"' + CONTROL_KEY.encode()):
        return None
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    barrier_id = message.get("id") if isinstance(message, dict) else None
    return barrier_id if isinstance(barrier_id, str) else None
