"""Hostile input for the ingest stage, and the oracle every outcome must satisfy.

Shared by tests/property/test_ingest_fuzz.py (hypothesis), tests/property/fuzz_ingest_atheris.py
(coverage-guided) and jobs/bench_hostile.py. Messages are assembled as bytes, not with
json.dumps, so that what a serialiser cannot write is reachable too: duplicate keys, NaN
literals, 20-digit integers, lone surrogate escapes, invalid UTF-8, 10 000 levels of nesting.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from pathlib import Path
from typing import Any

import orjson
from hypothesis import strategies as st

from pipeline.ingest.logic import MAX_BYTES, MAX_FUTURE_MS, MIN_OCCURRED_MS
from pipeline.ingest.outcomes import DeadLetter
from pipeline.ingest.pii import dead_letter_text, masked_through_escapes, normalise_phone

ROOT = Path(__file__).resolve().parents[2]
IDENTITY = tomllib.loads((ROOT / "schemas" / "identity.toml").read_text())
KINDS = [k["name"] for k in IDENTITY["kinds"]]
HASHED = {k["name"] for k in IDENTITY["kinds"] if k["hashed"]}
JUNK = list(IDENTITY["junk_values"])
HEX32 = re.compile(r"[0-9a-f]{32}")

# ----------------------------------------------------------------------------- the PII oracle

EMAILS = ("Jane.Doe@Example.com", "jane@example.com", "o.brien+news@mail.example.co.uk")
PHONES = ("06 12 34 56 78", "+33 6 12 34 56 78", "06.12.34.56.78", "0612345678", "+33612345678",
          "+1 (415) 555-0132")


def _forms() -> tuple[set[str], list[re.Pattern[str]]]:
    """Every spelling a leak could take: emails as written and lower-cased (found anywhere:
    the masker takes the whole run of address characters around an '@'); phones as written,
    E.164 and digits only, found as tokens, with the masker's own token rule: not glued to a
    letter or digit on either side ("x0612345678y" is an id, and a 13-digit timestamp may
    contain any 10 digits), nor followed by ':' and a digit (a clock time, "10:15:22")."""
    emails = {e for email in EMAILS for e in (email, email.lower())}
    phones = set()
    for phone in PHONES:
        e164 = normalise_phone(phone, "FR")
        assert e164, phone
        phones |= {phone, e164, re.sub(r"\D", "", phone), e164.lstrip("+")}
    return emails, [re.compile(rf"(?<!\w){re.escape(p)}(?!\w|:\d)") for p in sorted(phones)]


EMAIL_FORMS, PHONE_FORMS = _forms()


def leaks(text: str) -> list[str]:
    """The PII forms found in `text` (emails case-insensitively; NULs ignored, so that UTF-16
    spellings count too)."""
    text = text.replace("\x00", "")
    low = text.lower()
    return [e for e in EMAIL_FORMS if e.lower() in low] + [p.pattern for p in PHONE_FORMS if p.search(text)]


def check_outcome(raw: bytes, out: object, now_ms: int) -> None:
    """The property: a valid event that meets the event invariants, or a dead letter with a
    reason; and no raw email or phone in whatever goes on (event, masked copy, reason)."""
    assert isinstance(out, dict | DeadLetter), type(out)
    if isinstance(out, DeadLetter):
        assert isinstance(out.reason, str) and out.reason
        assert out.code and ":" not in out.code
        assert not leaks(dead_letter_text(raw)), leaks(dead_letter_text(raw))
        assert not leaks(masked_through_escapes(out.reason)), out.reason
        return
    check_event(out, now_ms)


def check_event(event: dict[str, Any], now_ms: int) -> None:
    """Invariants of a valid event (pipeline/ingest/outcomes.py documents the shape)."""
    assert isinstance(event["event_id"], str) and 1 <= len(event["event_id"]) <= 128
    assert isinstance(event["event_type"], str) and event["event_type"]
    assert isinstance(event["channel"], str) and event["channel"] == event["channel"].lower()
    assert isinstance(event["touchpoint"], str) and isinstance(event["stage"], str)
    assert type(event["occurred_at"]) is int
    assert MIN_OCCURRED_MS <= event["occurred_at"] <= now_ms + MAX_FUTURE_MS
    ids = event["identifiers"]
    assert isinstance(ids, dict) and ids and set(ids) <= set(KINDS)
    for kind, value in ids.items():
        assert isinstance(value, str) and value and value.strip().lower() not in JUNK
        if kind in HASHED:
            assert HEX32.fullmatch(value), (kind, value)
    assert type(event["revenue"]) is float and math.isfinite(event["revenue"])
    assert event["csat"] is None or (type(event["csat"]) is int and 1 <= event["csat"] <= 5)
    assert event["nps"] is None or (type(event["nps"]) is int and 0 <= event["nps"] <= 10)
    assert isinstance(event["currency"], str) and isinstance(event["order_id"], str)
    assert isinstance(event["properties"], dict) and isinstance(event["context"], dict)
    dumped = orjson.dumps(event).decode()  # it must travel on an internal topic
    assert not leaks(dumped), (leaks(dumped), dumped[:300])


# ----------------------------------------------------------------------------- byte builders


def js(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, allow_nan=True).encode()


def obj(pairs: list[tuple[bytes, bytes]]) -> bytes:
    """A JSON object from (key text, value text) pairs, duplicates kept."""
    return b"{" + b",".join(k + b":" + v for k, v in pairs) + b"}"


def nested(depth: int, kind: str) -> bytes:
    if kind == "array":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


NATIVE = {"event_id": "e-1", "event_type": "purchase", "occurred_at": "2026-11-03T10:15:22Z",
          "channel": "web", "identifiers": {"user_id": "u-42", "email": "jane@example.com"},
          "properties": {"revenue": 10, "note": "call 06 12 34 56 78"}, "context": {"a": "b"}}
SEGMENT = {"type": "track", "messageId": "m-1", "anonymousId": "a-1", "event": "Order Completed",
           "timestamp": "2026-11-03T10:15:22Z", "properties": {"revenue": 10},
           "traits": {"email": "jane@example.com"}, "context": {"traits": {"phone": "0612345678"}}}
IDENTIFY = {"type": "identify", "messageId": "m-2", "userId": "u-7", "timestamp": "2026-11-03T10:15:22Z",
            "traits": {"email": "Jane.Doe@Example.com", "phone": "+33 6 12 34 56 78", "plan": "gold"}}
TOP_KEYS = ["event_id", "event_type", "occurred_at", "channel", "identifiers", "properties", "context",
            "touchpoint", "type", "messageId", "anonymousId", "userId", "previousId", "event", "name",
            "timestamp", "originalTimestamp", "sentAt", "traits"]
SUB_KEYS = [*KINDS, "revenue", "csat", "nps", "currency", "order_id", "touchpoint", "channel", "traits",
            "note", "jane@example.com", "06 12 34 56 78"]
#: Fields whose value is an id: PII is put there whole, or (emails, '+' numbers) with other text.
ID_FIELDS = {"event_id", "messageId", "anonymousId", "userId", "previousId", *KINDS}

WEIRD_NUMBERS = [b"NaN", b"-NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400", b"1e-400", b"-0", b"-0.0",
                 b"0e0", b"18446744073709551616", b"18446744073709551615", b"9223372036854775808",
                 b"-9223372036854775809", b"9" * 400, b"01", b"+1", b".5", b"1.", b"0x10", b"1_000"]
WEIRD_STRINGS = [b'"\\ud800"', b'"\\udc00x"', b'"\\ud83d\\ude00"', b'"a\\u0000b"', b'"\\u0000"', b'"\xff\xfe"',
                 b'"caf\xe9"', b'"\xed\xa0\x80"', b'"\xc0\xaf"', b'"\xef\xbb\xbf"', b'"a\x00b"', b'"tab\there"',
                 b'"\\x41"', b'"\\', b'"', b"'single'", b"true", b"null", b"[]", b"{}", b'""', b'" "',
                 b'"2026-11-03T10:15:22"', b'"0001-01-01T00:00:00Z"', b'"1969-12-31T23:59:59.999Z"',
                 b'"9999-12-31T23:59:59Z"', b'"2026-11-03T10:15:22+99:00"', b'"2026-02-30T00:00:00Z"']

plain = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False)
    | st.text(max_size=12) | st.sampled_from(JUNK),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)
pii = st.sampled_from(EMAILS + PHONES)
pii_in_text = st.builds(lambda pre, p, post: f"{pre} {p} {post}", st.text(max_size=6), pii, st.text(max_size=6))
pii_in_id = pii | st.builds(lambda pre, p: f"{pre}-{p}", st.text("abc-_:", max_size=4),
                            st.sampled_from([*EMAILS, "+33612345678", "+1 (415) 555-0132"]))


def value_texts(for_id: bool) -> st.SearchStrategy[bytes]:
    """A JSON value as bytes: plain values of every type, or something hostile."""
    return st.one_of(
        plain.map(js),
        (pii_in_id if for_id else pii_in_text | pii).map(js),
        st.sampled_from(WEIRD_NUMBERS + WEIRD_STRINGS),
        st.builds(nested, st.sampled_from([31, 32, 33, 1023, 1024, 1025, 10_000]),
                  st.sampled_from(["array", "object"])),
        st.builds(lambda n: js("x" * n), st.sampled_from([60_000, MAX_BYTES - 300, MAX_BYTES, 70_000])),
        st.builds(lambda n: b"[" + b",".join([b"1"] * n) + b"]", st.sampled_from([20_000, 33_000, 40_000])),
        st.builds(lambda k, v: obj([(k, v), (k, b"2")]), st.sampled_from([b'"a"', b'"email"']),
                  st.sampled_from([b"1", b'"jane@example.com"'])),  # duplicate keys in a sub-object
    )


@st.composite
def hostile_messages(draw: st.DrawFn) -> bytes:
    """A native or Segment message in which a few fields (top level or one level down) are
    replaced, duplicated or removed, then possibly framed badly (BOM, truncation, padding)."""
    base = draw(st.sampled_from([NATIVE, SEGMENT, IDENTIFY]))
    pairs = [(js(k), js(v)) for k, v in base.items()]
    for _ in range(draw(st.integers(1, 4))):
        op, key = draw(st.sampled_from(["set", "dup", "drop", "sub"])), draw(st.sampled_from(TOP_KEYS))
        if op == "drop":
            pairs = [(k, v) for k, v in pairs if k != js(key)]
            continue
        if op == "sub":
            sub = base.get(key) if isinstance(base.get(key), dict) else {}
            sub_key = draw(st.sampled_from(SUB_KEYS))
            value = draw(value_texts(key == "identifiers" and sub_key in ID_FIELDS))
            inner = [(js(k), js(v)) for k, v in sub.items() if k != sub_key] + [(js(sub_key), value)]
            pairs = [(k, v) for k, v in pairs if k != js(key)] + [(js(key), obj(inner))]
            continue
        value = draw(value_texts(key in ID_FIELDS))
        if op == "set":
            pairs = [(k, v) for k, v in pairs if k != js(key)]
        pairs.append((js(key), value))
    return frame(obj(pairs), draw(st.sampled_from(FRAMES)), draw(st.integers(0, 2**16)))


FRAMES = ["", "", "", "bom", "ws", "trunc", "nul", "pad-1", "pad0", "pad+1", "trailing", "two", "utf16"]


def frame(raw: bytes, how: str, n: int) -> bytes:
    """Bad framing around an otherwise well-formed message."""
    if how == "bom":
        return b"\xef\xbb\xbf" + raw
    if how == "ws":
        return b" \t\r\n" + raw + b"\n "
    if how == "trunc":
        return raw[: n % max(1, len(raw))]
    if how == "nul":
        return raw + b"\x00"
    if how.startswith("pad"):  # total size exactly at, one below or one above the limit
        target = MAX_BYTES + int(how[3:])
        filler = target - len(raw) - len(b',"pad":""')
        return raw[:-1] + b',"pad":"' + b"p" * filler + b'"}' if filler >= 0 else raw
    if how == "trailing":
        return raw + b" garbage"
    if how == "two":
        return raw + raw
    if how == "utf16":
        return raw.decode("utf-8", errors="replace").encode("utf-16")
    return raw
