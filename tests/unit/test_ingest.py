"""pipeline.ingest.logic.ingest_one: literal raw messages in, Event / DeadLetter out (helpers
and independent expectations in ingest_cases.py)."""

from __future__ import annotations

import calendar
import math
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.ingest.logic import IngestConfig, known_kinds, lookup_problem, normalise_identifiers
from pipeline.ingest.outcomes import DeadLetter, Rejected
from tests.unit.ingest_cases import (
    CFG,
    EMAIL_NORMAL,
    HOUR_MS,
    PHONE_E164,
    T0_MS,
    TAXONOMY,
    accepted,
    base,
    code_of,
    h,
    run,
    without,
)

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
        # a leap second (RFC 3339 allows second 60): the next minute's first second
        ("2016-12-31T23:59:60Z", 1483228800000), ("2016-12-31T23:59:60.5Z", 1483228800500),
        ("2017-01-01T00:59:60+01:00", 1483228800000),
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


@pytest.mark.parametrize(
    ("written", "event_type"),
    [("Purchase", "purchase"), ("PURCHASE", "purchase"), (" purchase ", "purchase"),
     ("Order Completed", "purchase"), ("order_completed", "purchase"), ("ORDER-COMPLETED", "purchase"),
     ("Add To Cart", "add_to_cart"), ("add-to-cart", "add_to_cart"), ("Product Viewed", "product_view"),
     ("achat_confirmé", "achat_confirmé"), ("Newsletter Read", "Newsletter Read")],
)
def test_known_event_types_written_another_way(written: str, event_type: str) -> None:
    """A known type (or a Segment spec name sent natively) is recognised whatever its case and
    separators, so conversions and stages find it; an unknown type is kept as it came."""
    out = accepted(base(event_type=written, touchpoint=None))
    assert out["event_type"] == out["touchpoint"] == event_type
    assert out["stage"] == TAXONOMY["event_types"].get(event_type, out["stage"])


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
     ([1], 0.0), ("1e400", 0.0), ("nan", 0.0), (-5, -5.0),
     # amounts written for people: currency around them, decimal commas, grouped thousands
     ("59,90", 59.9), ("59,90 €", 59.9), ("€59.90", 59.9), ("EUR 1 234,56", 1234.56), ("$1,234.56", 1234.56),
     ("CHF 1'234.50", 1234.5), ("1.234,56", 1234.56), ("1,234", 1234.0), ("-10,5", -10.5), ("12abc", 0.0),
     ("1\u202f234,50\u00a0€", 1234.5)],
)
def test_revenue_is_a_float(revenue: object, expected: float) -> None:
    out = accepted(base(properties={"revenue": revenue}))
    assert type(out["revenue"]) is float
    assert out["revenue"] == expected


@pytest.mark.parametrize(
    ("properties", "currency"),
    [({"revenue": 59.9, "currency": "eur"}, "EUR"), ({"revenue": 1, "currency": " usd "}, "USD"),
     ({"revenue": "59,90 €"}, "EUR"), ({"revenue": "EUR 1 234,56"}, "EUR"), ({"revenue": "£12"}, "GBP"),
     ({"revenue": "12 CHF"}, "CHF"), ({"revenue": "$1,234.56"}, ""),  # $: USD, CAD, AUD...
     ({"revenue": "59,90 €", "currency": "USD"}, "USD"), ({"revenue": 12.5}, ""), ({"currency": "Euro"}, "Euro")],
)
def test_currency_in_upper_case_else_from_the_written_amount(properties: dict[str, object], currency: str) -> None:
    assert accepted(base(properties=properties))["currency"] == currency


@pytest.mark.parametrize("event_type", ["purchase", "Order Completed", "order-completed"])
def test_a_native_conversion_with_only_a_total_takes_it_as_revenue_as_segment_messages_do(event_type: str) -> None:
    out = accepted(base(event_type=event_type, properties={"total": "64,50 €", "currency": "EUR"}))
    assert (out["event_type"], out["revenue"], out["currency"]) == ("purchase", 64.5, "EUR")
    assert accepted(base(event_type=event_type, properties={"revenue": 0, "total": 9}))["revenue"] == 0.0
    assert accepted(base(event_type="checkout", properties={"total": 64.5}))["revenue"] == 0.0  # a cart, not money


def test_revenue_absent_is_zero_and_currency_order_id_empty() -> None:
    out = accepted(base())
    assert out["revenue"] == 0.0 and out["currency"] == "" and out["order_id"] == ""
    assert out["csat"] is None and out["nps"] is None
    assert out["properties"] == {} and out["context"] == {}


@pytest.mark.parametrize(
    ("csat", "expected"),
    [(1, 1), (3, 3), (5, 5), ("4", 4), (0, None), (6, None), (-1, None), (5.5, None),
     (4.5, 5), (2.5, 3), (4.4, 4),  # a half-point rounds up, as a reader expects (not to even)
     ("4/5", 4), ("4 / 5", 4), ("4,5", 5), ("4/10", None), ("8/10", None)],  # written for people, this scale only
)
def test_csat_kept_or_none_out_of_range(csat: object, expected: int | None) -> None:
    assert accepted(base(properties={"csat": csat}))["csat"] == expected


@pytest.mark.parametrize(
    ("nps", "expected"),
    [(0, 0), (9, 9), (10, 10), ("7", 7), (11, None), (-1, None), (100, None), ("9/10", 9), ("9/5", None)],
)
def test_nps_kept_or_none_out_of_range(nps: object, expected: int | None) -> None:
    assert accepted(base(properties={"nps": nps}))["nps"] == expected


@pytest.mark.parametrize("garbage", ["n/a", "", True, [], {}])
def test_non_numeric_nps_is_none(garbage: object) -> None:
    assert accepted(base(properties={"nps": garbage}))["nps"] is None


@pytest.mark.parametrize("garbage", ["n/a", "", True, [], {}])
def test_non_numeric_csat_is_none(garbage: object) -> None:
    assert accepted(base(properties={"csat": garbage}))["csat"] is None


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


@pytest.mark.parametrize(("raw", "detail"), [
    (b'{"properties": {"revenue": NaN}}', "NaN is not a JSON number (send null or leave the field out): line 1"),
    (b'{"a": -Infinity}', "-Infinity is not a JSON number"),
    (b'{"a":\n Infinity}', "Infinity is not a JSON number (send null or leave the field out): line 2 column 2"),
    (b'{"a": Nope}', "unexpected character"),
])
def test_a_bare_nan_or_infinity_is_named_in_the_reason(raw: bytes, detail: str) -> None:
    # what Python's json.dumps (and so the Python SDKs) writes for float('nan') and float('inf')
    out = run(raw)
    assert isinstance(out, DeadLetter) and out.reason.startswith("not_json: " + detail), out


@pytest.mark.parametrize(
    "raw",
    [b"\xff\xfe", b'{"event_id": "\xff"}',
     orjson.dumps(base()).replace(b'"evt-1"', b'"evt-\xc3\x28"')],
)
def test_invalid_utf8_is_not_json(raw: bytes) -> None:
    assert code_of(raw) == "not_json"
    reason = run(raw).reason  # type: ignore[union-attr]
    assert "not UTF-8" in reason and "re-encode" in reason, reason  # not orjson's "surrogates not allowed"


@pytest.mark.parametrize("stamp", [1793700922, 1793700922123, 1793700922.5, "1793700922", " 1793700922123 "])
def test_an_epoch_occurred_at_is_named_as_such_not_masked_as_a_phone(stamp: object) -> None:
    reason = run(orjson.dumps(base(occurred_at=stamp))).reason  # type: ignore[union-attr]
    assert reason.startswith("invalid_occurred_at: a number (epoch?)") and "RFC 3339" in reason, reason


def test_segment_shaped_lines_say_what_they_are() -> None:
    batch = orjson.dumps({"batch": [{"type": "track", "event": "x", "anonymousId": "a"}]})
    assert code_of(batch) == "segment_batch" and "/v1/batch" in run(batch).reason  # type: ignore[union-attr]
    for kind in (None, 3, ["track"]):
        assert code_of(orjson.dumps({"type": kind, "event": "x", "anonymousId": "a"})) == "segment_unknown_type"


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


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2026-11-03t10:15:22.120z", T0_MS),  # RFC 3339 5.6: T and Z may be lower case
        ("2026-11-03t10:15:22.120Z", T0_MS),
        ("2026-11-03T10:15:22.120z", T0_MS),
        ("2026-11-03 10:15:22.120Z", T0_MS),  # a space: the application's choice (5.6, note)
        ("2026-11-03T10:15:22.1204567Z", T0_MS),  # any number of fraction digits
        ("2026-11-03T10:15:22.12Z", T0_MS),
        ("2026-11-03T10:15:22.120-00:00", T0_MS),  # unknown local offset (4.3): UTC
    ],
)
def test_occurred_at_rfc3339_spellings(stamp: str, expected: int) -> None:
    assert accepted(base(occurred_at=stamp))["occurred_at"] == expected


@pytest.mark.parametrize(
    "stamp",
    [
        "20261103T101522Z",  # ISO 8601 basic format
        "2026-W45-2T10:15:22Z",  # week date
        "2026-307T10:15:22Z",  # ordinal date
        "2026-11-03T10:15:22+01",  # offset without minutes
        "2026-11-03T10:15:22+0100",
        "2026-11-03T10:15:22+01:00:30",  # offset with seconds
        "2026-11-03T10Z",  # reduced precision
        "2026-11-03T10:15Z",
        "2026-11-03T10:15:22,5Z",  # decimal comma
        "2026-11-03T10:15:22.Z",  # a dot without digits
        "2026-11-03_10:15:22Z",  # any other separator
        "2026-11-03T10:15:22\u00a0Z",
        "\u0662026-11-03T10:15:22Z",  # a non-ASCII digit
        "2026-11-03T10:15:22.120Z\n2026",
    ],
)
def test_occurred_at_other_iso8601_forms_are_invalid(stamp: str) -> None:
    assert code_of(base(occurred_at=stamp)) == "invalid_occurred_at"


_MOMENTS = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2026, 11, 3),  # noqa: DTZ001
                        timezones=st.sampled_from([UTC]))


@settings(max_examples=200, deadline=None)
@given(moment=_MOMENTS, offset_min=st.integers(-23 * 60 - 59, 23 * 60 + 59), sep=st.sampled_from("Tt "),
       zulu=st.sampled_from("Zz"), digits=st.integers(0, 9))
def test_occurred_at_any_rfc3339_spelling_is_the_same_instant(moment: datetime, offset_min: int, sep: str,
                                                               zulu: str, digits: int) -> None:
    """Written in UTC (Z or z) or at any offset, with 0 to 9 fraction digits: the same epoch ms
    (the fraction cut to milliseconds)."""
    fraction = f"{moment.microsecond:06d}000"[:digits]
    expected = calendar.timegm(moment.timetuple()) * 1000 + int((fraction + "000")[:3])
    fraction = f".{fraction}" if digits else ""
    local = moment + timedelta(minutes=offset_min)
    sign, minutes = ("+" if offset_min >= 0 else "-"), abs(offset_min)
    offset = f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    for stamp in (moment.strftime(f"%Y-%m-%d{sep}%H:%M:%S") + fraction + zulu,
                  local.strftime(f"%Y-%m-%d{sep}%H:%M:%S") + fraction + offset):
        assert accepted(base(occurred_at=stamp))["occurred_at"] == expected, stamp


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


def test_an_integral_float_identifier_is_the_integer() -> None:
    # some encoders write every number as a float: 42.0 must link with the 42 others send
    assert accepted(base(identifiers={"user_id": 42.0, "crm_id": 7}))["identifiers"] == {"user_id": "42", "crm_id": "7"}
    assert accepted(base(identifiers={"user_id": 1e20}))["identifiers"] == {"user_id": "100000000000000000000"}
    for junk in (42.5, True, [42], {"id": 42}):
        assert code_of(base(identifiers={"user_id": junk})) == "no_identifiers"
    for never_json in (math.nan, math.inf, -math.inf):  # orjson refuses them; other callers may not
        with pytest.raises(Rejected):
            normalise_identifiers({"user_id": never_json}, CFG)


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


def test_a_lookup_of_an_unknown_kind_or_an_empty_value_says_so() -> None:
    assert lookup_problem("email", "jane@example.com", CFG) is None
    message, hint = lookup_problem("emial", "jane@example.com", CFG) or ("", "")
    assert message == "unknown identifier kind 'emial'" and hint.startswith("use one of ")
    assert all(kind in hint for kind in known_kinds(CFG)) and known_kinds(CFG)[-1] == "anonymous_id"
    assert known_kinds(IngestConfig.build(b"salt", extra_kinds=("shopify_id",)))[-1] == "shopify_id"
    assert (lookup_problem("email", "  ", CFG) or ("",))[0] == "no email value given"
