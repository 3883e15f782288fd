"""Pure collector logic: a request body -> the raw messages to produce, or Refused.

strategy: the collector is a lossless door to `parcours.events.raw`. It checks only what
it alone can check (the write key, the envelope: JSON, `batch` an array; the request size)
and passes every message on, one JSON object per Kafka message. Whether a message is a
valid event is ingest's decision: a message without an id, with a bad timestamp or above
ingest's 64 KiB limit becomes a dead letter with its reason and exact bytes, as a malformed
line of `parcours replay` does. So one bad message never costs its batch, nothing is
dropped silently, and oversized messages are also named in the reply's `warnings`. That holds
for values only Python's json reads (a bare NaN from a Python SDK): the body is split with its
parser, and only the message that holds one becomes a dead letter (lenient.py).

Segment's server-side additions are made here, because only the collector knows them: the
batch's shared `context`, `integrations` and `sentAt` go into each message (the message's
own keys win), and `receivedAt` is set, from which ingest places a message without `timestamp`
(`receivedAt - (sentAt - originalTimestamp)`: the device clock corrected, else `receivedAt`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from pipeline.collector import lenient
from pipeline.collector.auth import check_write_key, write_key_of
from pipeline.collector.body import gunzip, not_empty, parse_json, strip_bom
from pipeline.collector.errors import Refused
from pipeline.ingest.logic import MAX_BYTES as MAX_EVENT_BYTES

SEGMENT_TYPES = ("track", "identify", "page", "screen", "alias")
#: Segment types with an endpoint but no mapping (schemas/segment.toml): accepted and passed on
#: like any message, so ingest dead-letters them (reason segment_unknown_type) as it does inside
#: a batch; the reply says so. SDKs get a 200 and do not retry or drop the rest of their queue.
UNMAPPED_TYPES = ("group",)
#: Partition keys: one device's (or user's) messages stay in order on one raw partition.
SEGMENT_KEYS = ("anonymousId", "userId", "messageId")
NATIVE_KEYS = ("event_id",)


@dataclass(frozen=True, slots=True)
class Message:
    key: bytes | None
    value: bytes  # one JSON object; for a malformed native line, its exact bytes


@dataclass(frozen=True)
class Accepted:
    messages: list[Message]
    notes: tuple[str, ...] = ()  # what ingest will dead-letter besides oversized messages

    def reply(self) -> dict[str, Any]:
        """Segment's `{"success": true}`, plus the count and what ingest will dead-letter."""
        out: dict[str, Any] = {"success": True, "messages": len(self.messages)}
        warnings = [f"message {i}: {len(m.value):,} bytes > {MAX_EVENT_BYTES:,}: it becomes a dead letter "
                    "(parcours.dead_letters, reason oversized); trim its properties"
                    for i, m in enumerate(self.messages) if len(m.value) > MAX_EVENT_BYTES]
        warnings += self.notes
        if warnings:
            out["warnings"] = warnings
        return out


def segment_request(body: bytes, kind: str | None, authorization: str | None,
                    allowed: tuple[str, ...], received: datetime) -> Accepted:
    """POST /v1/{kind} (one message, `type` set from the path) or /v1/batch (kind None)."""
    envelope, lenient_body = _object(strip_bom(gunzip(body)), kind)
    check_write_key(write_key_of(authorization, envelope.get("writeKey")), allowed)
    items = [{**envelope, "type": kind}] if kind is not None else envelope.get("batch")
    if not isinstance(items, list):
        raise Refused(400, "invalid_batch", '"batch" must be an array of messages',
                      'send {"batch": [{"type": "track", "event": ..., "anonymousId": ...}, ...]}')
    shared = envelope if kind is None else {}
    messages = [_segment_message(item, shared, received) for item in items]
    return _accepted(messages, SEGMENT_KEYS, lenient_body, _unmapped(items))


def _accepted(messages: list[Any], keys: tuple[str, ...], lenient_body: bool,
              notes: tuple[str, ...] = ()) -> Accepted:
    """Each message as one JSON object, keyed. From a body only Python's json could read, a
    message holding what JSON cannot (NaN, a lone surrogate) is produced as Python writes it,
    for ingest to dead-letter as not_json, and the reply says which and why (lenient.py)."""
    if not lenient_body:
        return Accepted([Message(_key(m, keys), orjson.dumps(m)) for m in messages], notes)
    encoded = [lenient.encode(m) for m in messages]
    flawed = tuple(f"message {i}: {flaw}: it becomes a dead letter (parcours.dead_letters, reason not_json)"
                   for i, (_, flaw) in enumerate(encoded) if flaw is not None)
    return Accepted([Message(_key(m, keys), value) for m, (value, _) in zip(messages, encoded, strict=True)],
                    flawed + notes)


def _unmapped(items: list[Any]) -> tuple[str, ...]:
    """A warning for each message of a Segment type that ingest will not map."""
    return tuple(f"message {i}: type {item['type']!r} is not mapped: it becomes a dead letter "
                 "(parcours.dead_letters, reason segment_unknown_type)"
                 for i, item in enumerate(items)
                 if isinstance(item, dict) and isinstance(item.get("type"), str)
                 and item["type"].lower() not in SEGMENT_TYPES and "event_type" not in item)


def native_request(body: bytes, authorization: str | None, allowed: tuple[str, ...]) -> Accepted:
    """POST /v1/events: a JSON array of Parcours events, or NDJSON (one event per line)."""
    check_write_key(write_key_of(authorization), allowed)
    text = not_empty(strip_bom(gunzip(body))).strip()
    if text[:1] == b"[":
        items, lenient_body = parse_json(text)
        return _accepted(items, NATIVE_KEYS, lenient_body)
    # NDJSON: each non-blank line exactly as sent, as `parcours replay` does
    return Accepted([Message(_key(_loads_or_none(line), NATIVE_KEYS), line)
                     for line in (raw.strip() for raw in text.splitlines()) if line])


def stamp(message: dict[str, Any], received: datetime) -> None:
    """Segment's server clock: `receivedAt`. Ingest reads the event time from it (with
    `sentAt` and `originalTimestamp`) when the sender gave no `timestamp`; writing that time
    into `timestamp` here would give each retry of a message without `messageId` another
    derived id (schemas/segment.toml)."""
    message["receivedAt"] = _iso(received)


def _segment_message(item: object, envelope: dict[str, Any], received: datetime) -> object:
    if not isinstance(item, dict):
        return item  # ingest dead-letters it: not_an_object
    message = {k: v for k, v in item.items() if k != "writeKey"}  # a credential: kept off Kafka
    for field in ("context", "integrations"):
        shared, own = envelope.get(field), message.get(field)
        if isinstance(shared, dict) and (own is None or isinstance(own, dict)):
            message[field] = {**shared, **(own or {})}
    if "sentAt" not in message and "sentAt" in envelope:
        message["sentAt"] = envelope["sentAt"]
    stamp(message, received)
    return message


def _key(message: object, fields: tuple[str, ...]) -> bytes | None:
    if isinstance(message, dict):
        for field in fields:
            value = message.get(field)
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
                return str(value).encode(errors="backslashreplace")  # a lone surrogate (lenient.py)
    return None


def _object(body: bytes, kind: str | None) -> tuple[dict[str, Any], bool]:
    value, lenient_body = parse_json(not_empty(body))
    if not isinstance(value, dict):
        shape = "one message object" if kind else '{"batch": [...]}'
        raise Refused(400, "invalid_body", f"expected a JSON object, got {type(value).__name__}",
                      f"send {shape}; Parcours events as an array or NDJSON go to /v1/events")
    return value, lenient_body


def _loads_or_none(line: bytes) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return None


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
