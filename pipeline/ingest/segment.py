"""Segment-spec (and RudderStack) messages -> the Parcours input form (schemas/segment.toml)."""

from __future__ import annotations

import re
from typing import Any

import orjson

from pipeline.ingest.outcomes import Rejected
from pipeline.ingest.pii import Hasher, masked
from pipeline.ingest.times import on_server_clock
from pipeline.taxonomy import segment_mapping, taxonomy

_NON_WORD = re.compile(r"[^a-z0-9]+")


def is_segment(message: dict[str, Any]) -> bool:
    return "event_type" not in message and isinstance(message.get("type"), str)


def snake(name: str) -> str:
    return _NON_WORD.sub("_", name.strip().lower()).strip("_")


def to_parcours(message: dict[str, Any], hasher: Hasher) -> dict[str, Any]:
    """Map one Segment message; Rejected when its type is not one we know."""
    mapping = segment_mapping()
    kind = str(message["type"]).strip().lower()
    spec = mapping["types"].get(kind)  # type: ignore[attr-defined]
    if spec is None:
        raise Rejected("segment_unknown_type", repr(masked(str(message["type"])))[:64])
    properties = _dict(message.get("properties"))
    context = _dict(message.get("context"))
    traits = {**_dict(context.get("traits")), **_dict(message.get("traits"))}
    event_type = spec.get("event_type") or _track_event_type(message.get("event"), mapping)
    return {
        "event_id": _message_id(message, mapping, hasher),
        "event_type": event_type,
        "occurred_at": _occurred_at(message),
        "channel": _channel(properties, context, _default_channel(message, context, spec, mapping["app_source"])),
        "touchpoint": properties.get("touchpoint") or message.get("name") or event_type,
        "identifiers": _identifiers(message, traits, context, kind),
        "properties": {**traits, **properties} if kind == "identify" else properties,
        "context": context,
    }


def _message_id(message: dict[str, Any], mapping: dict[str, Any], hasher: Hasher) -> object:
    """messageId, else one derived from the content (schemas/segment.toml: derived_message_id)."""
    given = message.get("messageId")
    if given is not None and given != "":
        return given  # ingest checks it like any event_id
    derived = mapping["derived_message_id"]
    left_out = {"messageId", *derived["delivery_fields"]}
    try:
        canonical = orjson.dumps({k: v for k, v in message.items() if k not in left_out},
                                 option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # nested deeper than orjson writes (254 levels)
        raise Rejected("missing_event_id", "no messageId, and too deeply nested to derive one") from None
    return derived["prefix"] + hasher.digest("segment_message", canonical)


def _occurred_at(message: dict[str, Any]) -> object:
    """`timestamp`; else `originalTimestamp`, on the server's clock when the collector received
    the message (it sets `receivedAt`); else the time it was received, else sent. Read here,
    not stamped by the collector, so a retried message's derived id stays the same."""
    if message.get("timestamp"):
        return message["timestamp"]
    original = message.get("originalTimestamp")
    if original:
        return on_server_clock(original, message.get("sentAt"), message.get("receivedAt")) or original
    return message.get("receivedAt") or message.get("sentAt")


def _track_event_type(name: object, mapping: dict[str, Any]) -> str:
    if not isinstance(name, str) or not name.strip():
        raise Rejected("segment_missing_event", "track message without an event name")
    # Masked before snake_casing, which would otherwise hide an email or a phone number from
    # the masking that every label gets later ("Jane@x.com" -> "jane_x_com").
    return str(mapping["track_events"].get(name) or snake(masked(name)))


def _channel(properties: dict[str, Any], context: dict[str, Any], default: str) -> str:
    named = properties.get("channel")
    if isinstance(named, str) and named.strip():  # an empty channel property means "not said"
        return named
    named = context.get("channel")
    if isinstance(named, str) and named.lower() in taxonomy().channels:
        return named.lower()
    return default


def _default_channel(message: dict[str, Any], context: dict[str, Any], spec: dict[str, Any],
                     app_source: dict[str, Any]) -> str:
    """The message type's channel, or the app's for any message a mobile SDK sent: a phone
    session's track and identify calls belong to the app, like its screens."""
    platform = message.get("channel")
    if isinstance(platform, str) and platform.lower() in app_source["rudderstack_platforms"]:
        mobile = app_source["rudderstack_platforms"][platform.lower()]
    else:
        device, os = _dict(context.get("device")), _dict(context.get("os"))
        mobile = (str(device.get("type", "")).lower() in app_source["device_types"]
                  or str(os.get("name", "")).lower() in app_source["os_names"])
    return str(app_source["channel"] if mobile else spec["default_channel"])


def _identifiers(message: dict[str, Any], traits: dict[str, Any], context: dict[str, Any],
                 kind: str) -> dict[str, Any]:
    ids = {
        "anonymous_id": message.get("anonymousId"),
        "user_id": message.get("userId"),
        "device_id": _dict(context.get("device")).get("id"),
        "email": traits.get("email"),
        "phone": traits.get("phone"),
    }
    if kind == "alias" and message.get("previousId"):
        ids["anonymous_id"] = message.get("previousId")
    return {k: v for k, v in ids.items() if v is not None}


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
