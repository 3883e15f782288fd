"""Pure ingest logic: one raw message (bytes) -> Event | DeadLetter.

strategy: cheap checks first (size, JSON, shape), then the required fields, then
normalisation. Every failure is a `Rejected(code, detail)` turned into a DeadLetter here, so
no input can raise out of `ingest_one`. Email and phone are hashed before the event leaves
this function; free-text fields are masked.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from pipeline.ingest import segment
from pipeline.ingest.outcomes import DeadLetter, Event, Rejected
from pipeline.ingest.pii import (
    Hasher,
    identifier_is_pii,
    identifier_value_is_pii,
    mask_tree,
    masked,
    normalise_email,
    normalise_phone,
    scrubbed,
)
from pipeline.ingest.times import parse_time
from pipeline.taxonomy import Taxonomy, canonical_event_type, identity_kinds, segment_mapping, taxonomy

MAX_BYTES = 64 * 1024
MAX_FUTURE_MS = 24 * 3600 * 1000
#: Earliest accepted event time (epoch ms): toDate(), which orders and partitions the fact
#: tables and buckets the daily views, is only defined from 1970-01-01.
MIN_OCCURRED_MS = 0


@dataclass(frozen=True)
class IngestConfig:
    hasher: Hasher
    phone_country: str
    taxonomy: Taxonomy
    ranks: dict[str, int]
    junk: frozenset[str]
    junk_repeated: int
    revenue_fallbacks: tuple[str, ...] = ()
    """A conversion without `revenue` takes the first of these properties set ([revenue] in schemas/segment.toml)."""

    @classmethod
    def build(cls, salt: bytes, phone_country: str = "FR", extra_kinds: tuple[str, ...] = ()) -> IngestConfig:
        kinds = identity_kinds().with_extra(extra_kinds)
        fallbacks = tuple(segment_mapping()["revenue"]["fallbacks"])  # type: ignore[call-overload]
        return cls(Hasher(salt), phone_country, taxonomy(), kinds.ranks, kinds.junk_values, kinds.junk_repeated,
                   fallbacks)


def ingest_one(raw: bytes, cfg: IngestConfig, now_ms: int | None = None) -> Event | DeadLetter:
    try:
        return _ingest(raw, cfg, now_ms if now_ms is not None else _now_ms())
    except Rejected as rejected:
        return DeadLetter(str(rejected))
    except (TypeError, ValueError, AttributeError, KeyError, OverflowError, RecursionError) as exc:
        return DeadLetter(f"invalid_event: {type(exc).__name__}")


def _ingest(raw: bytes, cfg: IngestConfig, now_ms: int) -> Event:
    if len(raw) > MAX_BYTES:
        raise Rejected("oversized", f"{len(raw)} bytes > {MAX_BYTES}")
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _not_json(raw, exc) from None
    if not isinstance(message, dict):
        raise Rejected("not_an_object", type(message).__name__)
    if "event_type" not in message and ("type" in message or isinstance(message.get("batch"), list)):
        _check_segment_shape(message)
    if segment.is_segment(message):
        message = segment.to_parcours(message, cfg.hasher)
    event_id = _event_id(_text(message, "event_id", 128), cfg)
    event_type = canonical_event_type(_label(_text(message, "event_type", 128)))
    channel = _label(_text(message, "channel", 64)).lower()
    occurred_at = parse_time(message.get("occurred_at"))
    if occurred_at - now_ms > MAX_FUTURE_MS:
        raise Rejected("occurred_at_in_future", "more than 24 h ahead")
    if occurred_at < MIN_OCCURRED_MS:
        raise Rejected("invalid_occurred_at", "before 1970-01-01T00:00:00Z")
    identifiers = normalise_identifiers(message.get("identifiers"), cfg)
    properties, context, touchpoint = _object(message, "properties"), _object(message, "context"), \
        message.get("touchpoint")
    if secrets := _secrets(message["identifiers"]):
        properties, context = scrubbed(properties, secrets), scrubbed(context, secrets)
        touchpoint = scrubbed(touchpoint, secrets)
    if event_type in cfg.taxonomy.conversion_event_types:
        properties = with_revenue(properties, cfg.revenue_fallbacks)
    touchpoint = _free_text(touchpoint, 128) if isinstance(touchpoint, str) and touchpoint.strip() else event_type
    return {
        "event_id": event_id,
        "event_type": event_type,
        "occurred_at": occurred_at,
        "channel": channel,
        "touchpoint": touchpoint,
        "stage": cfg.taxonomy.stage(event_type, channel),
        "identifiers": identifiers,
        "revenue": _number(properties.get("revenue")),
        "currency": _currency(properties.get("currency"), properties.get("revenue")),
        "order_id": _free_text(properties.get("order_id"), 128),
        "csat": _score(properties.get("csat"), 1, 5),
        "nps": _score(properties.get("nps"), 0, 10),
        "properties": mask_tree(properties),
        "context": mask_tree(context),
    }


def _secrets(identifiers: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The raw email and phone values the event came with, to mask wherever else it holds them."""
    out = []
    for kind in ("email", "phone"):
        raw = identifiers.get(kind)
        if isinstance(raw, str) and len(text := raw.strip()) >= 6:
            out.append((text, f"[{kind}]"))
    return tuple(out)


def with_revenue(properties: dict[str, Any], fallbacks: tuple[str, ...]) -> dict[str, Any]:
    """A conversion's revenue: `revenue`, else the first fallback property set (Segment's
    e-commerce `total`), sent natively or as a Segment message alike."""
    if properties.get("revenue") not in (None, ""):
        return properties
    for name in fallbacks:
        if properties.get(name) not in (None, ""):
            return {**properties, "revenue": properties[name]}
    return properties


def _not_json(raw: bytes, exc: orjson.JSONDecodeError) -> Rejected:
    """not_json with orjson's words, except where they do not say what is wrong: a byte that
    is not UTF-8 (a Latin-1 or Windows export; orjson says "surrogates not allowed") is named,
    and so is a bare NaN or Infinity, which Python's json writes and so the Python SDKs send
    (orjson says "unexpected character")."""
    try:
        raw.decode()
    except UnicodeDecodeError as bad:
        return Rejected("not_json", f"not UTF-8 (byte 0x{raw[bad.start]:02x} at {bad.start}); "
                                    "re-encode the source as UTF-8")
    word = next((w for w in ("NaN", "Infinity") if raw.startswith(w.encode(), exc.pos)), None)
    if word is None:
        return Rejected("not_json", str(exc)[:120])
    sign = "-" if raw[exc.pos - 1:exc.pos] == b"-" else ""
    return Rejected("not_json", f"{sign}{word} is not a JSON number (send null or leave the field out): "
                                f"line {exc.lineno} column {exc.colno} (char {exc.pos})")


def _check_segment_shape(message: dict[str, Any]) -> None:
    """Segment-looking messages that would otherwise read as an event without an id."""
    if isinstance(message.get("batch"), list) and "type" not in message:
        raise Rejected("segment_batch", "a whole Segment batch as one event: POST it to /v1/batch, "
                                        "or write its messages one per line")
    if not isinstance(message["type"], str):
        raise Rejected("segment_unknown_type", f"type is {_json_type(message['type'])}, not a string")


def _json_type(value: object) -> str:
    """A decoded JSON value's type as JSON names it."""
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", list: "an array", dict: "an object"}.get(
        type(value), type(value).__name__)


def normalise_identifiers(value: object, cfg: IngestConfig) -> dict[str, str]:
    """Known kinds only; junk dropped; email/phone normalised then hashed."""
    if not isinstance(value, dict):
        raise Rejected("missing_identifiers" if value is None else "invalid_identifiers",
                       type(value).__name__)
    out: dict[str, str] = {}
    for kind, raw in value.items():
        text = _identifier_text(raw) if kind in cfg.ranks else None
        if text is None or len(text) > 256 or is_junk(text, cfg):
            continue
        normal = _normalise(kind, text, cfg)
        if normal:
            out[kind] = normal
    if not out:
        raise Rejected("no_identifiers", "no non-empty identifier of a known kind")
    return out


def is_junk(text: str, cfg: IngestConfig) -> bool:
    """A placeholder, not an identifier: listed (schemas/identity.toml, any case), or one
    character repeated (0000000000)."""
    lowered = text.lower()
    if lowered in cfg.junk:
        return True
    return 0 < cfg.junk_repeated <= len(lowered) and not lowered.strip(lowered[0])


def _identifier_text(raw: object) -> str | None:
    """A string or an integer as text; 42.0 as "42" (JSON encoders that write every number as
    a float: it must link with the 42 other systems send); None for anything else (bools,
    42.5, NaN, infinities, objects)."""
    if isinstance(raw, float):
        return str(int(raw)) if raw.is_integer() else None  # is_integer() is False for NaN and inf
    if isinstance(raw, str | int) and not isinstance(raw, bool):
        return str(raw).strip()
    return None


def lookup_problem(kind: str, raw: str, cfg: IngestConfig) -> tuple[str, str] | None:
    """Why an identifier lookup (HTTP, CLI) cannot find anyone, as (message, hint); None when
    it can be made. An unknown kind or an empty value would only answer "unknown identifier"."""
    if kind not in cfg.ranks:
        return (f"unknown identifier kind {kind!r}",
                f"use one of {', '.join(known_kinds(cfg))} (PARCOURS_EXTRA_IDENTIFIER_KINDS adds kinds)")
    if not raw.strip():
        return f"no {kind} value given", f"give the {kind} to look up (raw emails and phones are hashed here)"
    return None


def known_kinds(cfg: IngestConfig) -> list[str]:
    """Identifier kinds, strongest first (schemas/identity.toml, then the extra kinds)."""
    return sorted(cfg.ranks, key=cfg.ranks.__getitem__)


def lookup_value(kind: str, raw: str, cfg: IngestConfig) -> str:
    """An identifier value as stored, for lookups (HTTP, CLI): raw email/phone are hashed."""
    return _normalise(kind, raw.strip(), cfg) or raw.strip()


def _normalise(kind: str, text: str, cfg: IngestConfig) -> str | None:
    if kind == "email":
        email = normalise_email(text)
        return cfg.hasher.hash(kind, email) if email else None
    if kind == "phone":
        phone = normalise_phone(text, cfg.phone_country)
        return cfg.hasher.hash(kind, phone) if phone else None
    if identifier_value_is_pii(text):
        # Many systems use the email (or phone) as login: it is hashed like one, under its
        # own kind, so raw PII never leaves ingest and the id still links consistently
        # (an address normalised first: "Jane <jane@x.fr>" and "jane@x.fr" are one login).
        return cfg.hasher.hash(kind, (normalise_email(text) if "@" in text else None) or text.lower())
    return text


def _text(message: dict[str, Any], field: str, limit: int) -> str:
    value = message.get(field)
    if value is None or value == "":
        raise Rejected(f"missing_{field}")
    if not isinstance(value, str):
        raise Rejected(f"invalid_{field}", f"expected a string, got {type(value).__name__}")
    value = value.strip()
    if not value or len(value) > limit:
        raise Rejected(f"invalid_{field}", f"length must be 1-{limit}")
    return value


def _event_id(value: str, cfg: IngestConfig) -> str:
    """An event id that carries an email or is a phone number is replaced by its keyed hash:
    deterministic, so re-sends are still recognised as duplicates downstream."""
    return cfg.hasher.hash("event_id", value) if identifier_is_pii(value) else value


def _label(value: str) -> str:
    """A required label (event type, channel) with anything PII-looking masked: it becomes a
    column and a dimension in every view."""
    return masked(value)


def _free_text(value: object, limit: int) -> str:
    """A short free-text field promoted to a column: trimmed, cut, PII masked."""
    if value is None or isinstance(value, bool | dict | list):
        return ""
    text = str(value).strip()
    return masked(text)[:limit]


def _object(message: dict[str, Any], field: str) -> dict[str, Any]:
    value = message.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Rejected(f"invalid_{field}", f"expected an object, got {type(value).__name__}")
    return value


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return 0.0
    try:
        number = float(value)
    except ValueError:
        number = _amount(value) if isinstance(value, str) else 0.0
    return number if math.isfinite(number) else 0.0


# An amount written for people: a currency symbol or code around it, spaces or apostrophes
# between thousands, a decimal comma ("59,90 €", "EUR 1 234,56", "$1,234.56", "CHF 1'234.50").
_AMOUNT = re.compile(r"([A-Z]{3}|[€$£¥])?\s*([+-]?\d[\d\s\u00a0\u202f.,']*)\s*([A-Z]{3}|[€$£¥])?")
#: Symbols that name one currency; "$" and "¥" name several (USD, CAD, AUD...; JPY, CNY).
_SYMBOLS = {"€": "EUR", "£": "GBP"}
_CODE = re.compile(r"[A-Za-z]{3}")


def _currency(given: object, revenue: object) -> str:
    """The currency property (an ISO 4217 code in upper case: "eur" and "EUR" are one currency),
    else the code or unambiguous symbol the revenue was written with ("59,90 €" is EUR)."""
    text = _free_text(given, 8)
    if text:
        return text.upper() if _CODE.fullmatch(text) else text
    found = _AMOUNT.fullmatch(revenue.strip()) if isinstance(revenue, str) else None
    mark = found and (found.group(1) or found.group(3))
    return _SYMBOLS.get(mark, mark if mark and len(mark) == 3 else "") if mark else ""


def _amount(text: str) -> float:
    """A revenue written as text for people; 0 when it is not one. The last '.' or ',' is the
    decimal point when it has 1, 2 or more than 3 digits after it; with exactly 3, a lone ','
    groups thousands ("1,234") and a lone '.' with another before it too ("1.234.567")."""
    found = _AMOUNT.fullmatch(text.strip())
    if found is None:
        return 0.0
    digits = re.sub(r"[\s\u00a0\u202f']", "", found.group(2))
    point = max(digits.rfind("."), digits.rfind(","))
    if point >= 0 and (len(digits) - point - 1 != 3 or digits.count(digits[point]) == 1 and digits[point] == "."
                       and "," not in digits):
        whole, fraction = digits[:point], digits[point + 1:]
    else:
        whole, fraction = digits, ""
    whole = whole.replace(".", "").replace(",", "")
    try:
        return float(f"{whole}.{fraction}" if fraction else whole)
    except ValueError:
        return 0.0


_SCORE = re.compile(r"(\d+(?:[.,]\d+)?)\s*(?:/\s*(\d+))?")


def _score(value: object, low: int, high: int) -> int | None:
    """A satisfaction score in [low, high]; anything else (garbage, out of range) is None."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        # "4/5", "9 / 10", "4,5": a score written for people, out of this scale only
        written = _SCORE.fullmatch(value.strip()) if isinstance(value, str) else None
        if written is None or written.group(2) not in (None, str(high)):
            return None
        number = float(written.group(1).replace(",", "."))
    if not math.isfinite(number) or not (low <= number <= high):
        return None
    return math.floor(number + 0.5)  # half up: round() goes to even, 4.5 would be 4


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)
