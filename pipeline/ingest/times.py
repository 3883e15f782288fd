"""Event times: RFC 3339 text -> epoch milliseconds, and Segment's device-clock correction."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from pipeline.ingest.outcomes import Rejected
from pipeline.ingest.pii import masked

#: RFC 3339 (5.6) date-time, exactly: `T`/`t` between date and time (or a space, which its note
#: lets an application choose), an optional fraction, `Z`/`z` or +-HH:MM. fromisoformat alone
#: also takes ISO 8601's other forms (20261103T101522Z, week dates, +01, 10Z, a decimal comma)
#: and no lower-case `z`.
_RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
                      r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})")
_DIGITS = re.compile(r"[0-9]+(?:\.[0-9]*)?")
_EPOCH_HINT = "a number (epoch?); RFC 3339 text expected, e.g. 2026-11-03T10:15:22Z"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def parse_time(value: object) -> int:
    """RFC 3339 with an offset -> epoch milliseconds (UTC)."""
    if value is None or value == "":
        raise Rejected("missing_occurred_at", type(value).__name__)
    if not isinstance(value, str):
        number = isinstance(value, int | float) and not isinstance(value, bool)
        raise Rejected("invalid_occurred_at", _EPOCH_HINT if number else type(value).__name__)
    text = value.strip()
    if not _RFC3339.fullmatch(text):
        # an epoch is said, not shown: the masking reads ten digits as a phone number
        raise Rejected("invalid_occurred_at", _EPOCH_HINT if _DIGITS.fullmatch(text) else repr(masked(value))[:64])
    # a leap second (RFC 3339 allows second 60), which datetime cannot hold: the next minute's 00
    leap = text[17:19] == "60"
    try:
        # upper(): fromisoformat takes `t` but not `z`; the pattern left only digits and signs
        moment = datetime.fromisoformat((text[:17] + "59" + text[19:] if leap else text).upper())
        # exact: timestamp() * 1000 is a float, and .001 s came out as 0.999... ms, cut to 0
        return (moment.astimezone(UTC) - _EPOCH) // _MS + 1000 * leap  # astimezone refuses years past 9999
    except (ValueError, OverflowError):
        raise Rejected("invalid_occurred_at", repr(masked(value) if isinstance(value, str) else value)[:64]) from None


def iso(ms: int) -> str:
    """Epoch milliseconds -> RFC 3339 text in UTC, to the millisecond."""
    return (_EPOCH + ms * _MS).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def on_server_clock(original: object, sent: object, received: object) -> str | None:
    """`receivedAt - (sentAt - originalTimestamp)`: a device's event time moved onto the
    server's clock, as Segment's servers compute `timestamp` (a phone whose clock is an hour
    off still places its events right). None when a time is missing, not RFC 3339, or the
    result is out of range: the caller then reads `originalTimestamp` as it is."""
    try:
        moment = parse_time(received) - (parse_time(sent) - parse_time(original))
        return iso(moment)
    except (Rejected, OverflowError):
        return None
