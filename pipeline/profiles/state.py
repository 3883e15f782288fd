"""A person's profile: identifiers (hashed), journey stage, last touchpoints, lifetime value.

strategy: kept next to the person's sessions (same partition, same owner), updated from the
same batches, and published on `parcours.profiles` at most once per person per batch. Lists
are capped so that a profile stays small whatever the person's history, and the names in it
(stage, touchpoints, channels) are interned: one copy per name, not one per profile (every
decoded event brings its own copies; 1 640 -> 1 230 B per profile).
"""

from __future__ import annotations

import bisect
from collections.abc import Set
from dataclasses import dataclass, field
from sys import intern
from typing import Any

import orjson

from pipeline.sessions.state import Session

MAX_TOUCHPOINTS = 5
MAX_VALUES_PER_KIND = 10
MAX_CONVERSION_IDS = 32
#: `Profile.currency` when conversions came in several currencies: their sum is no amount.
MIXED = "mixed"


@dataclass(slots=True)
class Profile:
    person_id: str
    identifiers: dict[str, list[str]] = field(default_factory=dict)
    stage: str = ""
    stage_at: int = 0
    """Event time (ms) of the event that set the stage: the latest one wins."""
    last_touchpoints: list[tuple[int, str, str]] = field(default_factory=list)
    """(event time ms, touchpoint, channel), latest last."""
    lifetime_revenue: float = 0.0
    conversions: int = 0
    conversion_ids: dict[str, float] = field(default_factory=dict)
    """Recent conversion event id -> revenue (the last MAX_CONVERSION_IDS): a conversion that
    reached two persons before they merged (delivered again after a crash) counts once."""
    events: int = 0
    first_seen: int = 0
    last_seen: int = 0
    currency: str = ""
    """The ISO code of `lifetime_revenue`; '' before any conversion with one, MIXED when
    conversions came in several (a sum of EUR and USD is no amount to act on)."""

    def add(self, event: dict[str, Any], conversions: frozenset[str]) -> None:
        ts = event["occurred_at"]
        for kind, value in event["identifiers"].items():
            values = self.identifiers.setdefault(kind, [])
            if value not in values and len(values) < MAX_VALUES_PER_KIND:
                values.append(value)
        if ts >= self.stage_at:
            self.stage, self.stage_at = intern(event["stage"]), ts
        bisect.insort(self.last_touchpoints, (ts, intern(event["touchpoint"]), intern(event["channel"])))
        if len(self.last_touchpoints) > MAX_TOUCHPOINTS:
            del self.last_touchpoints[0]
        if event["event_type"] in conversions and event["event_id"] not in self.conversion_ids:
            self.conversion_ids[event["event_id"]] = event["revenue"]
            if len(self.conversion_ids) > MAX_CONVERSION_IDS:  # re-deliveries are recent ones
                del self.conversion_ids[next(iter(self.conversion_ids))]
            self.conversions += 1
            self.lifetime_revenue += event["revenue"]
            if event["revenue"]:
                self.currency = combined(self.currency, event.get("currency") or "")
        self.events += 1
        self.first_seen = min(self.first_seen or ts, ts)
        self.last_seen = max(self.last_seen, ts)

    def absorb(self, other: Profile) -> None:
        for kind, values in other.identifiers.items():
            mine = self.identifiers.setdefault(kind, [])
            mine += [v for v in values if v not in mine][: MAX_VALUES_PER_KIND - len(mine)]
        if other.stage_at > self.stage_at:
            self.stage, self.stage_at = other.stage, other.stage_at
        self.last_touchpoints = sorted(self.last_touchpoints + other.last_touchpoints)[-MAX_TOUCHPOINTS:]
        both = self.conversion_ids.keys() & other.conversion_ids.keys()
        self.lifetime_revenue += other.lifetime_revenue - sum(other.conversion_ids[e] for e in both)
        self.conversions += other.conversions - len(both)
        self.conversion_ids.update(other.conversion_ids)
        self.currency = combined(self.currency, other.currency)
        self.events += other.events
        if other.first_seen:
            self.first_seen = min(self.first_seen or other.first_seen, other.first_seen)
        self.last_seen = max(self.last_seen, other.last_seen)

    @classmethod
    def from_wire(cls, person_id: str, data: list[Any] | dict[str, Any]) -> Profile:
        """From `fields` (changelog records, hand-overs), or the object that changelogs and
        workers before it wrote (with every field)."""
        if isinstance(data, list):
            return cls.from_fields(person_id, data)
        data = dict(data)
        data["last_touchpoints"] = _touchpoints(data["last_touchpoints"])
        data["stage"] = intern(data["stage"])
        return cls(**data)

    def fields(self) -> list[Any]:
        """The fields but the person id, by position, times relative to `first_seen` (8 digits
        fewer each): how ProfileStore keeps an idle profile and the changelog writes one."""
        base = self.first_seen
        return [self.identifiers, self.stage, self.stage_at - base,
                [(ts - base, tp, ch) for ts, tp, ch in self.last_touchpoints], self.lifetime_revenue,
                self.conversions, self.conversion_ids, self.events, base, self.last_seen - base, self.currency]

    @classmethod
    def from_fields(cls, person_id: str, fields: list[Any]) -> Profile:
        (identifiers, stage, stage_at, touchpoints, revenue, conversions, conversion_ids, events, base,
         last_seen, *rest) = fields  # rest: the currency, which records before 2026-12-07 lack
        return cls(person_id, identifiers, intern(stage), base + stage_at, _touchpoints(touchpoints, base),
                   revenue, conversions, conversion_ids, events, base, base + last_seen,
                   intern(rest[0]) if rest else "")

    def pack(self) -> bytes:
        """`fields` as JSON bytes."""
        # copied out: orjson's result keeps its 4 KB write buffer allocated (measured: 4 097 B
        # for a 120 B document), harmless for a message sent at once, not for one kept
        return memoryview(orjson.dumps(self.fields())).tobytes()

    @classmethod
    def unpack(cls, person_id: str, packed: bytes) -> Profile:
        return cls.from_fields(person_id, orjson.loads(packed))

    def document(self, open_session: Session | None, at_ms: int,
                 shared: Set[str] = frozenset()) -> dict[str, Any]:
        """The JSON consumers get (topic and HTTP). Identifiers found `shared` ("kind:value": a
        kiosk, the family tablet) are left out: they are not this person's to target."""
        identifiers = self.identifiers
        if shared:
            identifiers = {kind: kept for kind, values in identifiers.items()
                           if (kept := [v for v in values if f"{kind}:{v}" not in shared])}
        return {
            "type": "profile",
            "person_id": self.person_id,
            "identifiers": identifiers,
            "stage": self.stage,
            "open_session": None if open_session is None else {
                "session_id": open_session.session_id, "started_at": open_session.start,
                "last_event_at": open_session.end, "events": open_session.event_count,
                "channels": open_session.channels,
            },
            "last_touchpoints": [{"at": ts, "touchpoint": tp, "channel": ch} for ts, tp, ch in self.last_touchpoints],
            "lifetime_revenue": round(self.lifetime_revenue, 2),
            "currency": self.currency or None,
            "conversions": self.conversions,
            "events": self.events,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "updated_at": at_ms,
        }


def combined(mine: str, theirs: str) -> str:
    """The currency of two amounts added together ('' says nothing)."""
    if not theirs or theirs == mine:
        return mine
    return intern(theirs) if not mine else MIXED


def _touchpoints(rows: list[list[Any]], base: int = 0) -> list[tuple[int, str, str]]:
    """(at, touchpoint, channel) tuples back from JSON lists, names interned: one copy per name
    in the state, not one per profile."""
    return [(base + ts, intern(tp), intern(ch)) for ts, tp, ch in rows]


def merge_notice(from_person: str, to_person: str, at_ms: int) -> dict[str, Any]:
    return {"type": "merge", "from_person": from_person, "person_id": to_person, "updated_at": at_ms}


def split_notice(person: str, from_person: str, at_ms: int) -> dict[str, Any]:
    """`person` was merged into `from_person` and is its own again: its later updates come
    under its own id (what it did before stays in `from_person`'s profile)."""
    return {"type": "split", "from_person": from_person, "person_id": person, "updated_at": at_ms}
