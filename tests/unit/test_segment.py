"""Segment-spec messages through ingest_one, mapped per schemas/segment.toml."""

from __future__ import annotations

import calendar
import hashlib
import tomllib
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipeline.ingest import segment
from pipeline.ingest.logic import IngestConfig, ingest_one
from pipeline.ingest.outcomes import DeadLetter

ROOT = Path(__file__).resolve().parents[2]
MAPPING = tomllib.loads((ROOT / "schemas" / "segment.toml").read_text())
TAXONOMY = tomllib.loads((ROOT / "schemas" / "taxonomy.toml").read_text())

SALT = b"test-salt"
CFG = IngestConfig.build(SALT)
T0_MS = calendar.timegm((2026, 11, 3, 10, 15, 22, 0, 0, 0)) * 1000 + 120
NOW_MS = T0_MS + 3600 * 1000
STAMP = "2026-11-03T10:15:22.120Z"


def h(kind: str, value: str) -> str:
    return hashlib.blake2b(f"{kind}:{value}".encode(), key=SALT, digest_size=16).hexdigest()


def msg(kind: str, **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind, "messageId": "m-1", "anonymousId": "anon-1",
                           "timestamp": STAMP}
    out.update(fields)
    return out


def run(message: dict[str, Any]) -> dict[str, Any] | DeadLetter:
    return ingest_one(orjson.dumps(message), CFG, NOW_MS)


def accepted(message: dict[str, Any]) -> dict[str, Any]:
    out = run(message)
    assert isinstance(out, dict), out
    return out


def code_of(message: dict[str, Any]) -> str:
    out = run(message)
    assert isinstance(out, DeadLetter), out
    return out.code


def test_track_order_completed_is_purchase_with_revenue() -> None:
    out = accepted(msg("track", event="Order Completed", userId="u-42",
                       properties={"revenue": 59.9, "currency": "EUR", "order_id": "O-1"}))
    assert out == {
        "event_id": "m-1",
        "event_type": "purchase",
        "occurred_at": T0_MS,
        "channel": "web",
        "touchpoint": "purchase",
        "stage": "purchase",
        "identifiers": {"anonymous_id": "anon-1", "user_id": "u-42"},
        "revenue": 59.9,
        "currency": "EUR",
        "order_id": "O-1",
        "csat": None,
        "nps": None,
        "properties": {"revenue": 59.9, "currency": "EUR", "order_id": "O-1"},
        "context": {},
    }


@pytest.mark.parametrize(("name", "event_type"), sorted(MAPPING["track_events"].items()))
def test_every_mapped_track_event(name: str, event_type: str) -> None:
    out = accepted(msg("track", event=name))
    assert out["event_type"] == event_type
    assert out["stage"] == TAXONOMY["event_types"][event_type]


@pytest.mark.parametrize(
    ("name", "event_type"),
    [("Newsletter Signed Up", "newsletter_signed_up"), ("  Coupon--Applied!! ", "coupon_applied"),
     ("already_snake", "already_snake"), ("Video 2 Played", "video_2_played")],
)
def test_unknown_track_name_is_snake_cased(name: str, event_type: str) -> None:
    assert accepted(msg("track", event=name))["event_type"] == event_type
    assert segment.snake(name) == event_type


def test_unknown_track_event_stage_from_default_channel() -> None:
    out = accepted(msg("track", event="Newsletter Signed Up"))
    assert out["stage"] == TAXONOMY["channels"]["web"]["default_stage"]


def test_page_is_page_view_with_name_as_touchpoint() -> None:
    out = accepted(msg("page", name="Home", properties={"path": "/"}))
    assert out["event_type"] == "page_view"
    assert out["touchpoint"] == "Home"
    assert out["channel"] == "web"
    assert out["stage"] == "consideration"
    assert out["properties"] == {"path": "/"}


def test_page_properties_touchpoint_beats_name() -> None:
    out = accepted(msg("page", name="Home", properties={"touchpoint": "landing"}))
    assert out["touchpoint"] == "landing"


def test_page_without_name_touchpoint_is_event_type() -> None:
    assert accepted(msg("page"))["touchpoint"] == "page_view"


def test_screen_is_app_channel() -> None:
    out = accepted(msg("screen", name="Basket"))
    assert out["event_type"] == "screen_view"
    assert out["channel"] == "app"
    assert out["touchpoint"] == "Basket"


def test_type_is_case_insensitive() -> None:
    assert accepted(msg("Page", name="Home"))["event_type"] == "page_view"
    assert accepted(msg("TRACK", event="Order Completed"))["event_type"] == "purchase"


def test_identify_hashes_traits_email_and_context_traits_phone() -> None:
    message = msg("identify", userId="u-42",
                  traits={"email": " Jane.Doe@Example.com", "name": "Jane"},
                  context={"traits": {"phone": "06 12 34 56 78"}, "locale": "fr-FR"})
    del message["anonymousId"]
    out = accepted(message)
    assert out["event_type"] == "identify"
    assert out["channel"] == "web"
    assert out["identifiers"] == {
        "user_id": "u-42",
        "email": h("email", "jane.doe@example.com"),
        "phone": h("phone", "+33612345678"),
    }
    # traits are merged into properties and masked there; context is masked too.
    assert out["properties"]["name"] == "Jane"
    assert "[email]" in out["properties"]["email"]
    assert out["context"] == {"traits": {"phone": "[phone]"}, "locale": "fr-FR"}
    dumped = orjson.dumps(out)
    assert b"Jane.Doe@Example.com" not in dumped
    assert b"jane.doe@example.com" not in dumped.lower()
    assert b"06 12 34 56 78" not in dumped
    assert b"+33612345678" not in dumped


def test_identify_message_traits_override_context_traits() -> None:
    out = accepted(msg("identify", traits={"email": "a@example.com"},
                       context={"traits": {"email": "b@example.com"}}))
    assert out["identifiers"]["email"] == h("email", "a@example.com")


def test_track_with_context_traits_email() -> None:
    out = accepted(msg("track", event="Order Completed",
                       context={"traits": {"email": "JANE.DOE@EXAMPLE.COM"}}))
    assert out["identifiers"]["email"] == h("email", "jane.doe@example.com")
    assert b"EXAMPLE.COM" not in orjson.dumps(out)


def test_alias_previous_id_is_anonymous_id() -> None:
    message = msg("alias", previousId="anon-old", userId="u-42")
    del message["anonymousId"]
    out = accepted(message)
    assert out["event_type"] == "alias"
    assert out["identifiers"] == {"anonymous_id": "anon-old", "user_id": "u-42"}


def test_alias_previous_id_wins_over_anonymous_id() -> None:
    out = accepted(msg("alias", previousId="anon-old", userId="u-42"))
    assert out["identifiers"] == {"anonymous_id": "anon-old", "user_id": "u-42"}


def test_previous_id_ignored_outside_alias() -> None:
    out = accepted(msg("track", event="x", previousId="anon-old"))
    assert out["identifiers"] == {"anonymous_id": "anon-1"}


def test_timestamp_fallbacks() -> None:
    base = msg("track", event="x")
    del base["timestamp"]
    original = {**base, "originalTimestamp": "2026-11-03T11:15:22.120+01:00",
                "sentAt": "2026-11-03T10:20:00Z"}
    assert accepted(original)["occurred_at"] == T0_MS
    sent = {**base, "sentAt": STAMP}
    assert accepted(sent)["occurred_at"] == T0_MS
    both = {**base, "timestamp": STAMP, "originalTimestamp": "2026-11-03T09:00:00Z",
            "sentAt": "2026-11-03T09:30:00Z"}
    assert accepted(both)["occurred_at"] == T0_MS
    assert code_of(base) == "missing_occurred_at"


@pytest.mark.parametrize("kind", ["group", "batch", "", "unknown"])
def test_unknown_type_is_dead_letter(kind: str) -> None:
    assert code_of(msg(kind)) == "segment_unknown_type"


@pytest.mark.parametrize("event", [None, "", "   ", 42, ["Order Completed"]])
def test_track_without_event_is_dead_letter(event: object) -> None:
    message = msg("track")
    if event is not None:
        message["event"] = event
    assert code_of(message) == "segment_missing_event"


def test_properties_channel_overrides_default() -> None:
    out = accepted(msg("track", event="Newsletter Signed Up", properties={"channel": "Store"}))
    assert out["channel"] == "store"
    assert out["stage"] == TAXONOMY["channels"]["store"]["default_stage"]
    assert accepted(msg("screen", properties={"channel": "email"}))["channel"] == "email"


def test_context_channel_used_only_when_known() -> None:
    assert accepted(msg("track", event="x", context={"channel": "Email"}))["channel"] == "email"
    assert accepted(msg("track", event="x", context={"channel": "pigeon"}))["channel"] == "web"
    assert accepted(msg("screen", context={"channel": "pigeon"}))["channel"] == "app"
    out = accepted(msg("track", event="x", properties={"channel": "chat"},
                       context={"channel": "email"}))
    assert out["channel"] == "chat"


def test_missing_message_id_is_missing_event_id() -> None:
    message = msg("track", event="x")
    del message["messageId"]
    assert code_of(message) == "missing_event_id"


def test_no_identifiers_is_dead_letter() -> None:
    message = msg("track", event="x")
    del message["anonymousId"]
    assert code_of(message) == "no_identifiers"
    assert code_of({**message, "anonymousId": "undefined"}) == "no_identifiers"


def test_message_with_event_type_is_not_segment() -> None:
    native = {"type": "track", "event_type": "purchase", "event_id": "e-1",
              "occurred_at": STAMP, "channel": "store", "identifiers": {"user_id": "u-1"}}
    assert segment.is_segment(native) is False
    out = accepted(native)
    assert out["event_type"] == "purchase" and out["channel"] == "store"
    assert segment.is_segment({"type": "track"}) is True
    assert segment.is_segment({"type": 3}) is False


def test_segment_pii_in_properties_masked() -> None:
    out = accepted(msg("track", event="Support Ticket", properties={"note": "call 0612345678"}))
    assert out["properties"] == {"note": "call [phone]"}


# Messages as the real SDKs build them (segment-analytics-python 2.4, rudder-sdk-python 2.1):
# nulls for absent ids, `integrations`, `context.library`, `category`, RudderStack's
# top-level `channel` and identify traits only under context.traits.
SEGMENT_LIBRARY = {"library": {"name": "analytics-python", "version": "2.4.0"}}
RUDDER_LIBRARY = {"library": {"name": "analytics-python", "version": "2.1.9"}}
SDK_STAMP = "2026-11-03T10:15:22.120+00:00"


def sdk(kind: str, rudder: bool = False, **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"integrations": {"All": True} if rudder else {}, "anonymousId": None, "userId": None,
                           "timestamp": SDK_STAMP, "context": dict(RUDDER_LIBRARY if rudder else SEGMENT_LIBRARY),
                           "type": kind, "messageId": "7f1c2a4e-0b8d-4c52-9d0e-3a6f5b1c2d3e"}
    if rudder:
        out["channel"] = "server"
    out.update(fields)
    return out


@pytest.mark.parametrize("rudder", [False, True])
def test_sdk_page_before_login(rudder: bool) -> None:
    out = accepted(sdk("page", rudder, anonymousId="anon-9", category="Shop", name="Home", properties={"path": "/"}))
    assert (out["event_type"], out["channel"], out["touchpoint"]) == ("page_view", "web", "Home")
    assert out["identifiers"] == {"anonymous_id": "anon-9"}
    assert out["occurred_at"] == T0_MS
    assert out["properties"] == {"path": "/"}


def test_sdk_identify_segment_traits_and_rudder_context_traits_give_the_same_identifiers() -> None:
    segment_msg = sdk("identify", userId="u-42", anonymousId="anon-9", traits={"email": "Jane.Doe@Example.com"})
    rudder_msg = sdk("identify", True, userId="u-42", anonymousId="anon-9",
                     context={"traits": {"email": "Jane.Doe@Example.com"}, **RUDDER_LIBRARY})
    expected = {"anonymous_id": "anon-9", "user_id": "u-42", "email": h("email", "jane.doe@example.com")}
    for message in (segment_msg, rudder_msg):
        out = accepted(message)
        assert out["event_type"] == "identify" and out["identifiers"] == expected
        assert b"jane.doe@example.com" not in orjson.dumps(out).lower()


@pytest.mark.parametrize("rudder", [False, True])
def test_sdk_order_completed_is_a_purchase_on_web_whatever_the_sdk_platform(rudder: bool) -> None:
    out = accepted(sdk("track", rudder, userId="u-42", event="Order Completed",
                       properties={"revenue": 59.9, "currency": "EUR", "order_id": "O-1"}))
    assert (out["event_type"], out["channel"], out["stage"]) == ("purchase", "web", "purchase")
    assert (out["revenue"], out["currency"], out["order_id"]) == (59.9, "EUR", "O-1")
    assert out["identifiers"] == {"user_id": "u-42"}


@pytest.mark.parametrize("rudder", [False, True])
def test_sdk_screen_and_alias(rudder: bool) -> None:
    screen = accepted(sdk("screen", rudder, userId="u-42", name="Basket", category=None, properties={}))
    assert (screen["event_type"], screen["channel"], screen["touchpoint"]) == ("screen_view", "app", "Basket")
    alias = accepted(sdk("alias", rudder, previousId="anon-9", userId="u-42"))
    assert alias["identifiers"] == {"anonymous_id": "anon-9", "user_id": "u-42"}


def test_collector_stamped_message_uses_timestamp_over_original_and_sent_at() -> None:
    message = sdk("track", event="x", anonymousId="anon-9", originalTimestamp="2026-11-03T09:00:00Z",
                  sentAt="2026-11-03T09:01:00Z", receivedAt="2026-11-03T10:16:22.120Z")
    assert accepted(message)["occurred_at"] == T0_MS


@pytest.mark.parametrize("field", ["timestamp", "originalTimestamp", "sentAt"])
def test_segment_times_are_held_to_rfc3339_like_occurred_at(field: str) -> None:
    message = msg("track", event="x")
    del message["timestamp"]
    assert accepted({**message, field: "2026-11-03t10:15:22.120z"})["occurred_at"] == T0_MS
    for stamp in ("20261103T101522Z", "2026-11-03T10:15:22+01", "2026-11-03T10:15:22,120Z"):
        assert code_of({**message, field: stamp}) == "invalid_occurred_at"
