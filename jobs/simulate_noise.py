"""What a real feed adds to simulated journeys: malformed lines of every kind a producer gets
wrong, and byte-identical re-sends, interleaved with the valid lines (jobs/simulate.py).

Malformed lines are built from a plausible event with one thing broken (`MALFORMED_KINDS`),
with fresh ids, never a copy of a valid line; the PII kinds carry a real person's raw email
and phone, which the truth records so tests can check they never leave ingest.
"""

from __future__ import annotations

import random
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from jobs.simulate import _Gen, _Person

MALFORMED_KINDS = (
    "not_json", "json_array", "json_string", "missing_event_id", "empty_event_id",
    "missing_occurred_at", "bad_occurred_at", "future_occurred_at", "empty_identifiers",
    "junk_identifiers", "missing_channel", "wrong_type", "invalid_utf8", "oversized",
    "pii_not_json", "pii_missing_event_id",
)

with (Path(__file__).resolve().parents[1] / "schemas" / "identity.toml").open("rb") as _handle:
    _JUNK: list[str] = [v for v in tomllib.load(_handle)["junk_values"] if v]


def _template(gen: _Gen, people: list[_Person]) -> dict[str, Any]:
    r = gen.rng
    device = r.choice(r.choice(people).devices) if people else gen.device(True)
    ids = {"device_id": device.device_id, "anonymous_id": device.anonymous_id}
    return {
        "event_id": gen.uuid(), "event_type": r.choice(("page_view", "product_view", "search")),
        "occurred_at": gen.stamp(r.randrange(gen.t0, gen.t_end)), "channel": "web",
        "touchpoint": "product_page", "identifiers": {k: v for k, v in ids.items() if v},
        "properties": {}, "context": {"locale": "fr-FR", "page": "/account/orders"},
    }


def _pii(gen: _Gen, people: list[_Person]) -> dict[str, str]:
    """A real person's raw email and phone, recorded in the truth (they are written)."""
    with_both = [p for p in people[:500] if p.email and p.phone]
    person = gen.rng.choice(with_both) if with_both else None
    email = (gen.email(person) if person else None) or "Jane.Doe@Example.com"
    phone = (gen.phone(person) if person else None) or "06 12 34 56 78"
    gen.raw_emails.add(email)
    gen.raw_phones.add(phone)
    return {"email": email, "phone": phone}


def malformed(gen: _Gen, people: list[_Person], kind: str) -> bytes:
    r, ev = gen.rng, _template(gen, people)
    if kind == "not_json":
        return b"{broken " + orjson.dumps(ev)[: r.randint(10, 60)]
    if kind in ("json_array", "json_string"):
        return orjson.dumps([ev] if kind == "json_array" else f"page_view {ev['event_id']}")
    if kind.startswith("pii_"):
        ev["identifiers"] = _pii(gen, people)
        if kind == "pii_not_json":
            return orjson.dumps(ev)[: -r.randint(5, 30)]
    if kind == "invalid_utf8":
        return orjson.dumps({**ev, "touchpoint": "@@"}).replace(b'"@@"', b'"caf\xe9 \xff\xfe"')
    edits: dict[str, tuple[str, Any]] = {
        "missing_event_id": ("event_id", None), "pii_missing_event_id": ("event_id", None),
        "empty_event_id": ("event_id", ""), "missing_occurred_at": ("occurred_at", None),
        "bad_occurred_at": ("occurred_at", "yesterday"),
        "future_occurred_at": ("occurred_at", f"2099-0{r.randint(1, 9)}-01T12:00:00.000Z"),
        "empty_identifiers": ("identifiers", {}), "missing_channel": ("channel", None),
        "junk_identifiers": ("identifiers", {k: r.choice(_JUNK) for k in ev["identifiers"]}),
        "wrong_type": ("event_type", r.randint(1, 99)),
        "oversized": ("properties", {"blob": "x" * (70 * 1024)}),
    }
    key, value = edits[kind]
    if value is None:
        del ev[key]
    else:
        ev[key] = value
    return orjson.dumps(ev)


def interleave(rng: random.Random, valid: list[bytes], malformed: list[bytes],
                duplicate_rate: float) -> tuple[list[bytes], list[int], list[int]]:
    """Valid lines in order, with re-sends a few hundred lines later and malformed lines."""
    n = len(valid)
    extra: dict[int, list[tuple[bool, bytes]]] = {}
    for i, line in enumerate(valid):
        if rng.random() < duplicate_rate:
            extra.setdefault(min(n - 1, i + rng.randint(1, 300)), []).append((False, line))
    for line in malformed:
        extra.setdefault(rng.randrange(n) if n else -1, []).append((True, line))
    lines: list[bytes] = []
    bad: list[int] = []
    dup: list[int] = []
    for i in range(-1, n):
        if i >= 0:
            lines.append(valid[i])
        for is_bad, line in extra.get(i, ()):
            (bad if is_bad else dup).append(len(lines))
            lines.append(line)
    return lines, bad, dup
