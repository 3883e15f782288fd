"""Property tests for ingest_one: total on any input, and accepted events are well formed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.ingest.logic import IngestConfig, ingest_one
from pipeline.ingest.outcomes import DeadLetter
from tests.property.hostile import (
    HASHED,
    HEX32,
    JUNK,
    KINDS,
    NATIVE,
    SEGMENT,
    check_event,
    check_outcome,
    dead_letter_text,
    frame,
    hostile_messages,
    js,
    leaks,
    nested,
    obj,
)

CFG = IngestConfig.build(b"test-salt")
NOW_MS = 1_793_704_522_120  # 2026-11-03T11:15:22.120Z
FIELDS = ["event_id", "event_type", "occurred_at", "channel", "identifiers", "properties",
          "context", "touchpoint", "type", "messageId", "anonymousId", "userId", "event",
          "timestamp", "originalTimestamp", "sentAt", "traits", "previousId", "name"]
SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(["", "2026-11-03T10:15:22Z", "track", "page", "identify", "alias",
                       "screen", "group", "jane.doe@example.com", "06 12 34 56 78", *JUNK])
)
keys = st.sampled_from(FIELDS + KINDS) | st.text(max_size=10)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(keys, children, max_size=5),
    max_leaves=12,
)

# Objects that look like events: a valid native or Segment message (tests/property/hostile.py)
# in which a random subset of the real field names is replaced by values of random types, or
# removed.


@st.composite
def event_like(draw: st.DrawFn) -> dict[str, Any]:
    message = dict(draw(st.sampled_from([NATIVE, SEGMENT])))
    overrides = draw(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=4))
    message.update(overrides)
    for field in draw(st.lists(st.sampled_from(FIELDS), max_size=3)):
        message.pop(field, None)
    return message


def dumps(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


def check_total(raw: bytes) -> dict[str, Any] | DeadLetter:
    """No exception escapes; a valid event meets the invariants, a dead letter has a reason;
    no raw email or phone in either (tests/property/hostile.py has the oracle)."""
    out = ingest_one(raw, CFG, NOW_MS)
    check_outcome(raw, out, NOW_MS)
    return out


@SETTINGS
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    check_total(raw)


@SETTINGS
@given(json_values)
def test_arbitrary_json_never_raises(value: Any) -> None:
    check_total(dumps(value))


@SETTINGS
@given(event_like())
def test_event_like_objects_never_raise(value: dict[str, Any]) -> None:
    check_total(dumps(value))


# ------------------------------------------------------------------------- mostly valid events

id_values = (
    st.sampled_from(["u-42", " Jane.Doe@Example.com", "JANE.DOE@EXAMPLE.COM", "06 12 34 56 78",
                     "+33612345678", "not-an-email", "x@y", *JUNK, *[j.upper() for j in JUNK]])
    | st.text(max_size=20)
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.none() | st.booleans() | st.floats() | st.lists(st.text(max_size=3), max_size=2)
)
identifiers = st.dictionaries(st.sampled_from([*KINDS, "twitter", "Email", ""]), id_values,
                              min_size=1, max_size=8)
stamps = st.sampled_from(["2026-11-03T10:15:22.120Z", "2026-11-03T11:15:22+01:00",
                         "2026-11-04T10:15:22Z"] * 4 + [
    "2026-11-05T10:15:22Z", "2026-11-03T10:15:22", "2026-11-03", "garbage",
    "0001-01-01T00:30:00+01:00", "",
])
valid_events = st.fixed_dictionaries(
    {
        "event_id": st.just("e-1") | st.text(min_size=1, max_size=40),
        "event_type": st.sampled_from(["purchase", "page_view", "new_thing"] * 3
                                      + ["  ", "x" * 200]),
        "occurred_at": stamps,
        "channel": st.sampled_from(["web", "Store", "kiosk", " chat "] * 3 + ["", "c" * 65]),
        "identifiers": identifiers,
    },
    optional={
        "touchpoint": json_values,
        "properties": st.dictionaries(st.sampled_from(["revenue", "csat", "nps", "currency",
                                                       "order_id", "note"]) | st.text(max_size=5),
                                      json_values, max_size=6),
        "context": st.dictionaries(st.text(max_size=5), json_values, max_size=4),
    },
)


@SETTINGS
@given(valid_events)
def test_accepted_events_are_well_formed(event: dict[str, Any]) -> None:
    out = check_total(dumps(event))
    if isinstance(out, dict):
        # the email and phone kinds never carry the raw value (other kinds are kept verbatim)
        for kind in HASHED & set(out["identifiers"]):
            value = out["identifiers"][kind]
            assert "@" not in value and "Jane" not in value and "06 12" not in value


def test_generators_do_reach_the_accepted_path() -> None:
    """Guard for the strategy above: a plainly valid draw is accepted."""
    out = ingest_one(dumps({"event_id": "e-1", "event_type": "purchase",
                            "occurred_at": "2026-11-03T10:15:22.120Z", "channel": "web",
                            "identifiers": {"email": " Jane.Doe@Example.com"}}), CFG, NOW_MS)
    assert isinstance(out, dict)
    check_event(out, NOW_MS)


# ------------------------------------------------------------------------- key order


clean_ids = st.dictionaries(
    st.sampled_from(KINDS),
    st.sampled_from(["u-42", "Jane.Doe@Example.com", "06 12 34 56 78", "L-1", "d-7", "null"]),
    min_size=1, max_size=7,
)
clean_events = st.fixed_dictionaries(
    {
        "event_id": st.text(alphabet="abcdef0123456789-", min_size=1, max_size=36),
        "event_type": st.sampled_from(["purchase", "page_view", "support_call", "new_thing"]),
        "occurred_at": st.sampled_from(["2026-11-03T10:15:22.120Z", "2026-11-03T11:00:00+01:00"]),
        "channel": st.sampled_from(["web", "store", "Chat", "kiosk"]),
        "identifiers": clean_ids,
        "properties": st.dictionaries(st.sampled_from(["revenue", "csat", "nps", "note"]),
                                      scalars, max_size=4),
        "context": st.dictionaries(st.text(max_size=5), scalars, max_size=3),
    },
    optional={"touchpoint": st.text(max_size=10)},
)


@SETTINGS
@given(clean_events, st.randoms(use_true_random=False))
def test_key_order_does_not_change_the_outcome(event: dict[str, Any], rnd: Any) -> None:
    def shuffled(d: dict[str, Any]) -> dict[str, Any]:
        items = list(d.items())
        rnd.shuffle(items)
        return dict(items)

    reordered = shuffled(event)
    reordered["identifiers"] = shuffled(event["identifiers"])
    first = ingest_one(dumps(event), CFG, NOW_MS)
    second = ingest_one(dumps(reordered), CFG, NOW_MS)
    if isinstance(first, DeadLetter):
        assert isinstance(second, DeadLetter) and first.code == second.code
    else:
        assert first == second


# ------------------------------------------------------------------------- hostile input


@SETTINGS
@given(hostile_messages())
def test_hostile_messages_end_as_a_valid_event_or_a_dead_letter(raw: bytes) -> None:
    check_total(raw)


@SETTINGS
@given(st.sampled_from([b'"u-42"', b'"web"', b'"call 06 12 34 56 78"', b'"e-1"']), st.binary(max_size=64))
def test_arbitrary_bytes_inside_a_string_of_a_valid_event(target: bytes, junk: bytes) -> None:
    """Invalid UTF-8, raw control characters, stray quotes and backslashes inside a field."""
    check_total(js(NATIVE).replace(target, b'"' + junk + b'"', 1))


def _native(**fields: Any) -> bytes:
    return js({**NATIVE, **fields})


def _with_raw(field: str, value: bytes) -> bytes:
    """NATIVE with one top-level field written as raw JSON text (NaN, 20-digit integers...)."""
    return obj([(js(k), js(v)) for k, v in NATIVE.items() if k != field] + [(js(field), value)])


def _props(value: bytes) -> bytes:
    return _with_raw("properties", b'{"revenue":' + value + b"}")


def _segment(**fields: Any) -> bytes:
    return js({**SEGMENT, **fields})


# (input, expected): a dead letter's code, or "event" when it must be accepted.
CATALOGUE: dict[str, tuple[bytes, str]] = {
    "10 000 nested arrays": (nested(10_000, "array"), "not_json"),
    "10 000 nested objects": (nested(10_000, "object"), "not_json"),
    "orjson depth limit inside properties": (_with_raw("properties", b'{"x":' + nested(1100, "array") + b"}"),
                                             "not_json"),
    "1 000 levels inside properties": (_with_raw("properties", b'{"x":' + nested(1000, "array") + b"}"), "event"),
    "NaN literal": (_props(b"NaN"), "not_json"),
    "Infinity literal": (_props(b"-Infinity"), "not_json"),
    "1e400": (_props(b"1e400"), "not_json"),
    "2**64 revenue": (_props(b"18446744073709551616"), "event"),
    "-0 revenue": (_props(b"-0"), "event"),
    "revenue as a string NaN": (_props(b'"NaN"'), "event"),
    "revenue as a bool": (_props(b"true"), "event"),
    "event_id as a number": (_with_raw("event_id", b"18446744073709551615"), "invalid_event_id"),
    "event_id as a list": (_native(event_id=["e-1"]), "invalid_event_id"),
    "event_id null": (_native(event_id=None), "missing_event_id"),
    "occurred_at as epoch ms": (_native(occurred_at=1793704522120), "invalid_occurred_at"),
    "occurred_at before 1970": (_native(occurred_at="1969-12-31T23:59:59.999Z"), "invalid_occurred_at"),
    "occurred_at year 1": (_native(occurred_at="0001-01-01T00:00:00Z"), "invalid_occurred_at"),
    "identifiers as a list": (_native(identifiers=["u-42"]), "invalid_identifiers"),
    "identifier values not strings": (_native(identifiers={"user_id": ["u"], "email": {"a": 1}}), "no_identifiers"),
    "UTF-8 BOM": (b"\xef\xbb\xbf" + js(NATIVE), "not_json"),
    "NUL after the object": (js(NATIVE) + b"\x00", "not_json"),
    "NUL escape in a field": (_native(event_id="e\u00001"), "event"),
    "lone surrogate escape": (_with_raw("context", b'{"x":"\\ud800"}'), "not_json"),
    "surrogate pair escape": (_with_raw("context", b'{"x":"\\ud83d\\ude00"}'), "event"),
    "invalid UTF-8": (_with_raw("context", b'{"x":"caf\xe9"}'), "not_json"),
    "duplicate event_id: the last wins": (_with_raw("event_id", b'"e-2"'), "event"),
    "exactly 64 KiB": (frame(js(NATIVE), "pad0", 0), "event"),
    "64 KiB + 1": (frame(js(NATIVE), "pad+1", 0), "oversized"),
    "UTF-16": (frame(js(NATIVE), "utf16", 0), "not_json"),
    "segment: unknown type": (_segment(type="group"), "segment_unknown_type"),
    "segment: type not a string": (_segment(type=["track"]), "segment_unknown_type"),
    "segment: traits a list, context.traits a list": (_segment(traits=[1], context={"traits": ["x"]}), "event"),
    "segment: missing messageId (optional: derived)": (js({k: v for k, v in SEGMENT.items() if k != "messageId"}),
                                                       "event"),
    "segment: timestamp garbage": (_segment(timestamp="yesterday"), "invalid_occurred_at"),
    "segment: timestamp a number": (_segment(timestamp=1793704522), "invalid_occurred_at"),
    "segment: event name a dict": (_segment(event={"a": 1}), "segment_missing_event"),
    "segment: empty channel property": (_segment(properties={"channel": " "}), "event"),
}


def test_catalogue_of_hostile_inputs() -> None:
    """What happens to each kind of hostile input, spelled out (and kept)."""
    wrong = {}
    for name, (raw, expected) in CATALOGUE.items():
        out = check_total(raw)
        got = "event" if isinstance(out, dict) else out.code
        if got != expected:
            wrong[name] = (expected, got)
    assert not wrong, wrong


def test_duplicate_keys_keep_the_last_value() -> None:
    raw = b'{"event_id":"e-1",' + js(NATIVE)[1:-1].replace(b'"event_id":"e-1",', b"") + b',"event_id":"e-2"}'
    out = check_total(raw)
    assert isinstance(out, dict) and out["event_id"] == "e-2"


def test_pii_in_labels_ids_and_keys_never_leaves_ingest() -> None:
    """Found by the hostile fuzzing: event_type, channel, event_id, property keys and Segment
    event names used to carry raw emails and phone numbers onto the internal topics."""
    raw = _native(event_id="sms-+33612345678", event_type="mail jane@example.com", channel="06 12 34 56 78",
                  properties={"jane@example.com": True}, identifiers={"user_id": "login:Jane.Doe@Example.com"})
    out = check_total(raw)
    assert isinstance(out, dict)
    assert out["event_type"] == "mail [email]" and out["channel"] == "[phone]"
    assert HEX32.fullmatch(out["event_id"]) and HEX32.fullmatch(out["identifiers"]["user_id"])
    assert out["properties"] == {"[email]": True}
    named = check_total(_segment(event="Call 06 12 34 56 78"))
    assert isinstance(named, dict) and named["event_type"] == "call_phone"


def test_the_oracle_can_fail() -> None:
    """Guard for the leak oracle: every spelling it must catch, a digit run it must not, and an
    event or an unmasked dead letter that carries one."""
    for text in ["x Jane.Doe@Example.com", "JANE@EXAMPLE.COM", "+33 6 12 34 56 78", "tel:+33612345678",
                 "0612345678", "call 33612345678", "\x00".join("jane@example.com")]:
        assert leaks(text), text
    assert not leaks("1793704522120612345678") and not leaks("[email] [phone]")
    event = ingest_one(js(NATIVE), CFG, NOW_MS)
    assert isinstance(event, dict)
    with pytest.raises(AssertionError):
        check_outcome(b"", {**event, "context": {"note": "06 12 34 56 78"}}, NOW_MS)
    assert leaks(js(NATIVE).decode()) and not leaks(dead_letter_text(js(NATIVE)))
