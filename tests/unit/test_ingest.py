"""pipeline.ingest.logic.ingest_one: literal raw messages in, Event / DeadLetter out.

Expected values are computed independently of the code under test (calendar.timegm for
timestamps, hashlib.blake2b for identifier hashes, the schemas/*.toml files for junk values
and stages).
"""

from __future__ import annotations

import calendar
import hashlib
import re
import tomllib
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipeline.ingest.logic import IngestConfig, ingest_one
from pipeline.ingest.outcomes import DeadLetter

ROOT = Path(__file__).resolve().parents[2]
IDENTITY = tomllib.loads((ROOT / "schemas" / "identity.toml").read_text())
TAXONOMY = tomllib.loads((ROOT / "schemas" / "taxonomy.toml").read_text())
JUNK = list(IDENTITY["junk_values"])
KINDS = [k["name"] for k in IDENTITY["kinds"]]

SALT = b"test-salt"
CFG = IngestConfig.build(SALT)

# 2026-11-03T10:15:22.120Z as epoch milliseconds, computed without datetime.fromisoformat.
T0_MS = calendar.timegm((2026, 11, 3, 10, 15, 22, 0, 0, 0)) * 1000 + 120
assert T0_MS == 1_793_700_922_120
HOUR_MS = 3600 * 1000
NOW_MS = T0_MS + HOUR_MS  # the event happened an hour before "now"

EMAIL_NORMAL = "jane.doe@example.com"
PHONE_E164 = "+33612345678"


def h(kind: str, value: str, salt: bytes = SALT) -> str:
    return hashlib.blake2b(f"{kind}:{value}".encode(), key=salt, digest_size=16).hexdigest()


def base(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": "evt-1",
        "event_type": "purchase",
        "occurred_at": "2026-11-03T10:15:22.120Z",
        "channel": "web",
        "identifiers": {"user_id": "u-42"},
    }
    event.update(overrides)
    return event


def without(field: str) -> dict[str, Any]:
    event = base()
    del event[field]
    return event


def run(message: object, cfg: IngestConfig = CFG,
        now_ms: int = NOW_MS) -> dict[str, Any] | DeadLetter:
    raw = message if isinstance(message, bytes) else orjson.dumps(message)
    return ingest_one(raw, cfg, now_ms)


def accepted(message: object, **kw: Any) -> dict[str, Any]:
    out = run(message, **kw)
    assert isinstance(out, dict), out
    return out


def code_of(message: object, **kw: Any) -> str:
    out = run(message, **kw)
    assert isinstance(out, DeadLetter), out
    assert isinstance(out.reason, str) and out.reason
    return out.code


# --------------------------------------------------------------------------- full valid event


def test_full_valid_event_every_field() -> None:
    message = {
        "event_id": "1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed",
        "event_type": "product_view",
        "occurred_at": "2026-11-03T10:15:22.120Z",
        "channel": "Web",
        "identifiers": {
            "anonymous_id": "a-91f", "device_id": "d-7", "user_id": "u-42",
            "email": " Jane.Doe@Example.com", "phone": "06 12 34 56 78",
            "loyalty_id": "L-1", "crm_id": "C-9",
        },
        "properties": {"revenue": 59.9, "currency": "EUR", "order_id": "O-1", "csat": 4,
                       "nps": 9, "campaign": "nl-12"},
        "context": {"locale": "fr-FR"},
    }
    out = accepted(message)
    assert out == {
        "event_id": "1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed",
        "event_type": "product_view",
        "occurred_at": T0_MS,
        "channel": "web",
        "touchpoint": "product_view",  # default = event_type
        "stage": "consideration",  # taxonomy: product_view -> consideration
        "identifiers": {
            "anonymous_id": "a-91f", "device_id": "d-7", "user_id": "u-42",
            "email": h("email", EMAIL_NORMAL), "phone": h("phone", PHONE_E164),
            "loyalty_id": "L-1", "crm_id": "C-9",
        },
        "revenue": 59.9,
        "currency": "EUR",
        "order_id": "O-1",
        "csat": 4,
        "nps": 9,
        "properties": {"revenue": 59.9, "currency": "EUR", "order_id": "O-1", "csat": 4,
                       "nps": 9, "campaign": "nl-12"},
        "context": {"locale": "fr-FR"},
    }
    assert type(out["revenue"]) is float
    assert type(out["occurred_at"]) is int
    dumped = orjson.dumps(out)
    assert b"Jane.Doe" not in dumped and b"jane.doe" not in dumped.lower()
    assert b"12 34 56 78" not in dumped and PHONE_E164.encode() not in dumped


def test_out_is_orjson_serialisable_roundtrip() -> None:
    out = accepted(base(properties={"a": [1, 2.5, None, {"b": True}]}))
    assert orjson.loads(orjson.dumps(out)) == out


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2026-11-03T10:15:22.120Z", T0_MS),
        ("2026-11-03T11:15:22.120+01:00", T0_MS),
        ("2026-11-03T05:15:22.120-05:00", T0_MS),
        ("2026-11-03T10:15:22.120+00:00", T0_MS),
        ("2026-11-03T10:15:22Z", T0_MS - 120),
        (" 2026-11-03T10:15:22.120Z ", T0_MS),
    ],
)
def test_occurred_at_epoch_ms(stamp: str, expected: int) -> None:
    assert accepted(base(occurred_at=stamp))["occurred_at"] == expected


def test_channel_lower_cased_and_stripped() -> None:
    assert accepted(base(channel="  Call_Center "))["channel"] == "call_center"


def test_touchpoint_given_is_kept_and_default_is_event_type() -> None:
    assert accepted(base(touchpoint=" checkout_page "))["touchpoint"] == "checkout_page"
    assert accepted(base())["touchpoint"] == "purchase"
    assert accepted(base(touchpoint="   "))["touchpoint"] == "purchase"
    assert accepted(base(touchpoint=42))["touchpoint"] == "purchase"


@pytest.mark.parametrize("event_type", sorted(TAXONOMY["event_types"]))
def test_stage_of_each_event_type_from_taxonomy(event_type: str) -> None:
    out = accepted(base(event_type=event_type, channel="survey"))
    assert out["stage"] == TAXONOMY["event_types"][event_type]


@pytest.mark.parametrize("channel", sorted(TAXONOMY["channels"]))
def test_stage_falls_back_to_channel_default(channel: str) -> None:
    out = accepted(base(event_type="some_new_event", channel=channel))
    assert out["stage"] == TAXONOMY["channels"][channel]["default_stage"]


def test_unknown_channel_accepted_with_unknown_stage() -> None:
    out = accepted(base(event_type="some_new_event", channel="Kiosk"))
    assert out["channel"] == "kiosk"
    assert out["stage"] == "unknown"


@pytest.mark.parametrize(
    ("revenue", "expected"),
    [(59.9, 59.9), (100, 100.0), ("59.90", 59.9), ("abc", 0.0), (None, 0.0), (True, 0.0),
     ([1], 0.0), ("1e400", 0.0), ("nan", 0.0), (-5, -5.0)],
)
def test_revenue_is_a_float(revenue: object, expected: float) -> None:
    out = accepted(base(properties={"revenue": revenue}))
    assert type(out["revenue"]) is float
    assert out["revenue"] == expected


def test_revenue_absent_is_zero_and_currency_order_id_empty() -> None:
    out = accepted(base())
    assert out["revenue"] == 0.0 and out["currency"] == "" and out["order_id"] == ""
    assert out["csat"] is None and out["nps"] is None
    assert out["properties"] == {} and out["context"] == {}


@pytest.mark.parametrize(
    ("csat", "expected"),
    [(1, 1), (3, 3), (5, 5), ("4", 4), (0, None), (6, None), (-1, None), (5.5, None)],
)
def test_csat_kept_or_none_out_of_range(csat: object, expected: int | None) -> None:
    assert accepted(base(properties={"csat": csat}))["csat"] == expected


@pytest.mark.parametrize(
    ("nps", "expected"),
    [(0, 0), (9, 9), (10, 10), ("7", 7), (11, None), (-1, None), (100, None)],
)
def test_nps_kept_or_none_out_of_range(nps: object, expected: int | None) -> None:
    assert accepted(base(properties={"nps": nps}))["nps"] == expected


@pytest.mark.parametrize("garbage", ["n/a", "", True, [], {}])
def test_non_numeric_nps_is_none(garbage: object) -> None:
    assert accepted(base(properties={"nps": garbage}))["nps"] is None


@pytest.mark.parametrize("garbage", ["n/a", "", True, [], {}])
def test_non_numeric_csat_is_none(garbage: object) -> None:
    assert accepted(base(properties={"csat": garbage}))["csat"] is None


# --------------------------------------------------------------------------- identifiers / PII


@pytest.mark.parametrize(
    "spelling", [" Jane.Doe@Example.com", "jane.doe@example.com ", "JANE.DOE@EXAMPLE.COM"]
)
def test_email_spellings_hash_the_same_and_raw_never_appears(spelling: str) -> None:
    out = accepted(base(identifiers={"email": spelling}))
    assert out["identifiers"] == {"email": h("email", EMAIL_NORMAL)}
    dumped = orjson.dumps(out)
    assert spelling.strip().encode() not in dumped
    assert EMAIL_NORMAL.encode() not in dumped.lower()
    assert b"@" not in dumped


@pytest.mark.parametrize(
    "spelling",
    ["06 12 34 56 78", "+33 6 12 34 56 78", "0612345678", "+33612345678", "06.12.34.56.78"],
)
def test_fr_phone_variants_hash_the_same(spelling: str) -> None:
    out = accepted(base(identifiers={"phone": spelling}))
    assert out["identifiers"] == {"phone": h("phone", PHONE_E164)}
    dumped = orjson.dumps(out)
    assert spelling.encode() not in dumped
    assert b"612345678" not in dumped


def test_phone_default_country_is_configurable() -> None:
    us = IngestConfig.build(SALT, phone_country="US")
    out = accepted(base(identifiers={"phone": "(415) 555-2671"}), cfg=us)
    assert out["identifiers"] == {"phone": h("phone", "+14155552671")}


def test_different_salts_give_different_hashes() -> None:
    other = IngestConfig.build(b"another-salt")
    ids = {"email": EMAIL_NORMAL, "phone": "0612345678"}
    a = accepted(base(identifiers=ids))["identifiers"]
    b = accepted(base(identifiers=ids), cfg=other)["identifiers"]
    assert a["email"] != b["email"] and a["phone"] != b["phone"]
    assert b == {"email": h("email", EMAIL_NORMAL, b"another-salt"),
                 "phone": h("phone", PHONE_E164, b"another-salt")}


def test_hash_is_stable_for_a_salt_across_configs() -> None:
    again = IngestConfig.build(SALT)
    assert (accepted(base(identifiers={"email": EMAIL_NORMAL}), cfg=again)["identifiers"]
            == {"email": h("email", EMAIL_NORMAL)})


def test_non_hashed_kinds_kept_verbatim_but_stripped() -> None:
    out = accepted(base(identifiers={"user_id": " u-42 ", "crm_id": 1234}))
    assert out["identifiers"] == {"user_id": "u-42", "crm_id": "1234"}


@pytest.mark.parametrize("junk", JUNK)
def test_junk_identifier_values_are_dropped(junk: str) -> None:
    out = accepted(base(identifiers={"user_id": "u-42", "anonymous_id": junk, "device_id": junk}))
    assert out["identifiers"] == {"user_id": "u-42"}


@pytest.mark.parametrize("junk", [*JUNK, "NULL", " None ", "Undefined", "N/A", "NaN"])
def test_only_junk_identifiers_is_no_identifiers(junk: str) -> None:
    ids = {kind: junk for kind in KINDS}
    assert code_of(base(identifiers=ids)) == "no_identifiers"


def test_unusable_identifier_values_are_dropped() -> None:
    ids = {"user_id": True, "crm_id": None, "loyalty_id": [1], "device_id": {"a": 1},
           "email": "not-an-email", "phone": "abc", "anonymous_id": "x" * 257}
    assert code_of(base(identifiers=ids)) == "no_identifiers"
    ids["anonymous_id"] = "a-1"
    assert accepted(base(identifiers=ids))["identifiers"] == {"anonymous_id": "a-1"}


def test_unknown_identifier_kinds_are_ignored() -> None:
    out = accepted(base(identifiers={"user_id": "u-42", "twitter": "@jane", "Email": "x@y.fr"}))
    assert out["identifiers"] == {"user_id": "u-42"}
    assert code_of(base(identifiers={"twitter": "@jane", "ssn": "123"})) == "no_identifiers"


def test_email_as_user_id_is_not_kept_raw() -> None:
    # contract: raw email/phone never reach an internal topic, whatever kind carries them
    out = accepted(base(identifiers={"user_id": "Jane.Doe@Example.com",
                                     "crm_id": "06 12 34 56 78", "loyalty_id": "L-1"}))
    dumped = orjson.dumps(out)
    assert b"Jane.Doe@Example.com" not in dumped and b"06 12 34 56 78" not in dumped
    assert out["identifiers"]["user_id"] == h("user_id", "jane.doe@example.com")
    assert out["identifiers"]["loyalty_id"] == "L-1"
    assert re.fullmatch(r"[0-9a-f]{32}", out["identifiers"]["crm_id"])
    # hashed under its own kind: not the same token as the email kind
    assert out["identifiers"]["user_id"] != h("email", "jane.doe@example.com")


def test_pii_looking_id_hash_is_stable_across_case() -> None:
    a = accepted(base(identifiers={"user_id": "Jane.Doe@Example.com"}))["identifiers"]
    b = accepted(base(identifiers={"user_id": " jane.doe@example.com "}))["identifiers"]
    assert a == b


def test_empty_identifiers_object_is_no_identifiers() -> None:
    assert code_of(base(identifiers={})) == "no_identifiers"


# --------------------------------------------------------------------------- dead letters


def test_oversized() -> None:
    message = base(properties={"blob": "x" * (64 * 1024)})
    raw = orjson.dumps(message)
    assert len(raw) > 64 * 1024
    assert code_of(raw) == "oversized"


def test_exactly_64_kib_is_not_oversized() -> None:
    raw = orjson.dumps(base(properties={"blob": ""}))
    pad = 64 * 1024 - len(raw)
    raw = orjson.dumps(base(properties={"blob": "x" * pad}))
    assert len(raw) == 64 * 1024
    assert isinstance(run(raw), dict)
    raw_plus = orjson.dumps(base(properties={"blob": "x" * (pad + 1)}))
    assert code_of(raw_plus) == "oversized"


@pytest.mark.parametrize(
    "raw", [b"", b"{", b"not json", b"{'event_id': 'x'}", b'{"a":NaN}', b'{"a":1,}']
)
def test_not_json(raw: bytes) -> None:
    assert code_of(raw) == "not_json"


@pytest.mark.parametrize(
    "raw",
    [b"\xff\xfe", b'{"event_id": "\xff"}',
     orjson.dumps(base()).replace(b'"evt-1"', b'"evt-\xc3\x28"')],
)
def test_invalid_utf8_is_not_json(raw: bytes) -> None:
    assert code_of(raw) == "not_json"


@pytest.mark.parametrize("raw", [b"[1, 2]", b"[]", b'"a string"', b"42", b"4.2", b"null", b"true"])
def test_not_an_object(raw: bytes) -> None:
    assert code_of(raw) == "not_an_object"


@pytest.mark.parametrize("field", ["event_id", "event_type", "channel"])
def test_missing_required_text_field(field: str) -> None:
    assert code_of(without(field)) == f"missing_{field}"
    assert code_of(base(**{field: None})) == f"missing_{field}"
    assert code_of(base(**{field: ""})) == f"missing_{field}"


@pytest.mark.parametrize("value", [123, 0, True, ["e"], {"id": "e"}, 1.5])
def test_invalid_event_id_non_string(value: object) -> None:
    assert code_of(base(event_id=value)) == "invalid_event_id"


def test_event_id_length_limit() -> None:
    assert accepted(base(event_id="e" * 128))["event_id"] == "e" * 128
    assert code_of(base(event_id="e" * 129)) == "invalid_event_id"
    assert code_of(base(event_id="   ")) == "invalid_event_id"
    assert accepted(base(event_id="  evt-2 "))["event_id"] == "evt-2"


def test_invalid_event_type_and_channel() -> None:
    assert code_of(base(event_type=5)) == "invalid_event_type"
    assert code_of(base(channel=["web"])) == "invalid_channel"
    assert code_of(base(channel="c" * 65)) == "invalid_channel"


def test_missing_occurred_at() -> None:
    assert code_of(without("occurred_at")) == "missing_occurred_at"
    assert code_of(base(occurred_at=None)) == "missing_occurred_at"
    assert code_of(base(occurred_at="")) == "missing_occurred_at"


@pytest.mark.parametrize(
    "stamp",
    ["yesterday", "2026-13-03T10:15:22Z", "2026-11-03T25:15:22Z", "03/11/2026 10:15",
     "2026-11-03T10:15:22",  # no offset
     "2026-11-03",  # a date, no offset
     "   ", 1793700922120, 17937009221.2, ["2026-11-03T10:15:22Z"], {"t": 1}, True],
)
def test_invalid_occurred_at(stamp: object) -> None:
    assert code_of(base(occurred_at=stamp)) == "invalid_occurred_at"


@pytest.mark.parametrize("stamp", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_out_of_range_occurred_at_is_invalid_occurred_at(stamp: str) -> None:
    assert code_of(base(occurred_at=stamp)) == "invalid_occurred_at"


def test_occurred_at_in_future() -> None:
    now = T0_MS
    later = "2026-11-04T11:15:22.120Z"  # 25 h after T0
    assert code_of(base(occurred_at=later), now_ms=now) == "occurred_at_in_future"
    assert code_of(base(occurred_at="2026-11-04T10:15:22.121Z"), now_ms=now) == (
        "occurred_at_in_future")  # 24 h + 1 ms


def test_near_future_accepted() -> None:
    now = T0_MS
    out = accepted(base(occurred_at="2026-11-04T09:15:22.120Z"), now_ms=now)  # 23 h ahead
    assert out["occurred_at"] == now + 23 * HOUR_MS
    out = accepted(base(occurred_at="2026-11-04T10:15:22.120Z"), now_ms=now)  # exactly 24 h
    assert out["occurred_at"] == now + 24 * HOUR_MS


def test_future_check_uses_the_offset() -> None:
    # 2026-11-04T12:15:22.120+02:00 is 10:15:22.120Z = exactly 24 h after T0: accepted.
    assert accepted(base(occurred_at="2026-11-04T12:15:22.120+02:00"), now_ms=T0_MS)
    # The same wall-clock time in UTC-02:00 is 28 h ahead: rejected.
    assert code_of(base(occurred_at="2026-11-04T12:15:22.120-02:00"), now_ms=T0_MS) == (
        "occurred_at_in_future")


def test_old_events_are_accepted() -> None:
    assert accepted(base(occurred_at="2020-01-01T00:00:00Z"))["occurred_at"] == (
        calendar.timegm((2020, 1, 1, 0, 0, 0, 0, 0, 0)) * 1000)


def test_missing_identifiers() -> None:
    assert code_of(without("identifiers")) == "missing_identifiers"
    assert code_of(base(identifiers=None)) == "missing_identifiers"


@pytest.mark.parametrize("ids", [["u-42"], [{"user_id": "u-42"}], "u-42", 42, True])
def test_invalid_identifiers(ids: object) -> None:
    assert code_of(base(identifiers=ids)) == "invalid_identifiers"


@pytest.mark.parametrize("props", [[1, 2], ["revenue", 10], "text", 3])
def test_invalid_properties(props: object) -> None:
    assert code_of(base(properties=props)) == "invalid_properties"


def test_invalid_context() -> None:
    assert code_of(base(context=["fr-FR"])) == "invalid_context"


def test_properties_null_is_empty() -> None:
    assert accepted(base(properties=None))["properties"] == {}


def test_first_failure_wins_in_documented_order() -> None:
    # Size before JSON, JSON before shape, then event_id before the others.
    assert code_of(b"x" * (64 * 1024 + 1)) == "oversized"
    assert code_of({"identifiers": []}) == "missing_event_id"
    assert code_of(base(occurred_at="garbage", identifiers=None)) == "invalid_occurred_at"


def test_dead_letter_code_property() -> None:
    assert DeadLetter("invalid_occurred_at: 'garbage'").code == "invalid_occurred_at"
    assert DeadLetter("missing_event_id").code == "missing_event_id"
    assert DeadLetter("a: b: c").code == "a"
    out = run(base(occurred_at="garbage"))
    assert isinstance(out, DeadLetter)
    assert out.reason.startswith("invalid_occurred_at: ")
    assert out.code == "invalid_occurred_at"


# --------------------------------------------------------------------------- free-text masking


def test_pii_in_properties_and_context_is_masked() -> None:
    message = base(
        properties={
            "note": "mail me at Jane.Doe@Example.com or call 06 12 34 56 78",
            "nested": {"list": ["+33 6 12 34 56 78", "ok", 5, None], "deep": {"x": "jane@x.org"}},
            "order_id": "O-1234",
            "when": "2026-11-03",
        },
        context={"page": {"url": "https://shop.example/?email=jane.doe@example.com"},
                 "ua": "Mozilla/5.0", "phone": "06.12.34.56.78"},
    )
    out = accepted(message)
    assert out["properties"] == {
        "note": "mail me at [email] or call [phone]",
        "nested": {"list": ["[phone]", "ok", 5, None], "deep": {"x": "[email]"}},
        "order_id": "O-1234",
        "when": "2026-11-03",
    }
    assert out["context"] == {"page": {"url": "https://shop.example/?email=[email]"},
                              "ua": "Mozilla/5.0", "phone": "[phone]"}
    dumped = orjson.dumps(out)
    for raw in (b"Jane.Doe@Example.com", b"jane.doe@example.com", b"jane@x.org",
                b"06 12 34 56 78", b"+33 6 12 34 56 78", b"06.12.34.56.78"):
        assert raw not in dumped


def test_pii_cut_by_the_length_limit_is_still_masked() -> None:
    out = accepted(base(touchpoint="x" * 110 + " jane.doe@example.com",
                        properties={"order_id": "o" * 119 + " 0612345678"}))
    assert "jane.doe" not in out["touchpoint"]
    assert "06123456" not in out["order_id"]
    assert len(out["touchpoint"]) <= 128 and len(out["order_id"]) <= 128


def test_pii_in_promoted_fields_is_masked() -> None:
    out = accepted(base(touchpoint="jane.doe@example.com",
                        properties={"order_id": "jane.doe@example.com", "currency": "a@b.co"}))
    dumped = orjson.dumps(out)
    assert b"jane.doe@example.com" not in dumped
    assert b"a@b.co" not in dumped
