"""Deterministic omnichannel journey simulator: NDJSON input lines for Parcours + ground truth.

strategy:
  1. Population (one `random.Random(seed)` drives everything, no `hash()`): every person owns
     1-3 devices (web ones carry an anonymous_id cookie), maybe an email, a FR mobile phone, a
     loyalty_id, a crm_id, and a user_id when they ever log in. A few households of 2-3 persons
     share a family tablet; every loyalty member may use the shared store kiosks.
  2. Journey per person: awareness (ads, newsletter) -> consideration sessions on web/app
     (logins link device_id + anonymous_id to user_id + email) -> for ~35% a purchase online or
     in store (some buy again) -> after purchase (delivery, billing, support call/chat, survey).
     Email and phone are written in random spelling variants; a fraction of web events is
     written as Segment-spec messages.
  3. Arrival order = event time + a few seconds-to-minutes for some events (local shuffles)
     + hours for whole "late batch" app sessions; lines are written sorted by arrival.
  4. Byte-identical re-sends (within the next 300 lines) and malformed lines (every kind of
     `MALFORMED_KINDS` in rotation, fresh ids, never a copy of a valid line) are interleaved
     (jobs/simulate_noise.py); the truth records their line numbers.
Channels and event types are checked against schemas/taxonomy.toml, Segment event names come
from schemas/segment.toml.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import tomllib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from jobs.simulate_noise import MALFORMED_KINDS, interleave, malformed

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
DEFAULT_START = datetime(2026, 11, 1, tzinfo=UTC)


def _schema(name: str) -> dict[str, Any]:
    with (SCHEMAS / name).open("rb") as handle:
        return tomllib.load(handle)


_TAXONOMY = _schema("taxonomy.toml")
CHANNELS: frozenset[str] = frozenset(_TAXONOMY["channels"])
EVENT_TYPES: frozenset[str] = frozenset(_TAXONOMY["event_types"])
_SEGMENT_NAMES: dict[str, str] = {t: n for n, t in _schema("segment.toml")["track_events"].items()}

_MIN, _HOUR, _DAY = 60_000, 3_600_000, 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PARIS = timezone(timedelta(hours=1))  # November: CET
_FIRST = ("jane", "paul", "lea", "hugo", "chloe", "louis", "emma", "noah", "ines", "jules")
_LAST = ("doe", "martin", "bernard", "petit", "durand", "moreau", "simon", "laurent")
_DOMAINS = ("example.com", "mail.example.org", "exemple.fr")


@dataclass(frozen=True)
class Truth:
    person_of_event: dict[str, int]  # valid unique event_id -> true person index
    user_ids_of_person: dict[int, set[str]]  # every person index -> user_ids written for it
    malformed_lines: list[int]  # 0-based line numbers that must become dead letters
    duplicate_lines: list[int]  # 0-based line numbers re-sending an earlier valid line
    valid_event_count: int  # distinct valid event_ids
    purchase_revenue: float  # sum of revenue over distinct valid purchases, 2 decimals
    raw_emails: set[str]  # every raw email string written (all spelling variants)
    raw_phones: set[str]  # every raw phone string written


@dataclass(frozen=True)
class Simulation:
    lines: list[bytes]  # NDJSON lines without trailing newline
    truth: Truth


@dataclass
class _Device:
    device_id: str
    web: bool
    anonymous_id: str | None
    shared: bool = False
    logged_in: set[int] = field(default_factory=set)  # person indexes logged in here


@dataclass
class _Person:
    idx: int
    email: str | None
    phone: str | None  # 9 national digits after the leading 0
    loyalty_id: str | None
    crm_id: str | None
    user_id: str | None  # None: never logs in
    devices: list[_Device]
    tablet: _Device | None = None


@dataclass(slots=True)
class _Event:
    arrival: int
    seq: int
    person: int
    payload: dict[str, Any]


class _Gen:
    """Stateful generator: the rng, id counters, emitted events and truth accumulators."""

    def __init__(self, rng: random.Random, start: datetime, days: int, segment_rate: float):
        self.rng = rng
        self.t0 = int((start - _EPOCH) / timedelta(milliseconds=1))
        self.t_end = self.t0 + days * _DAY
        self.segment_rate = segment_rate
        self.events: list[_Event] = []
        self.counter = 0
        self.after_at = 0  # event time (ms) of the last after-purchase event
        self.kiosks: list[str] = []
        self.user_ids: dict[int, set[str]] = {}
        self.raw_emails: set[str] = set()
        self.raw_phones: set[str] = set()
        self.revenue_cents = 0

    # ---- ids and formatting -------------------------------------------------------------
    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def short_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter:x}{self.rng.getrandbits(24):06x}"

    def stamp(self, ms: int) -> str:
        moment = _EPOCH + timedelta(milliseconds=ms)
        if self.rng.random() < 0.1:
            return moment.astimezone(_PARIS).isoformat(timespec="milliseconds")
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def email(self, p: _Person) -> str | None:
        if p.email is None:
            return None
        local, domain = p.email.split("@")
        cap = ".".join(w.capitalize() for w in local.split(".")) + "@" + domain.capitalize()
        variants = (p.email, p.email, p.email, f" {cap}", f"{p.email} ", p.email.upper(), cap)
        return self.rng.choice(variants)

    def phone(self, p: _Person) -> str | None:
        if p.phone is None:
            return None
        d, pairs = p.phone, " ".join(p.phone[i : i + 2] for i in range(1, 9, 2))
        variants = (f"0{d[0]} {pairs}", f"+33 {d[0]} {pairs}", f"0{d}", f"+33{d}",
                    f"0{d[0]}.{pairs.replace(' ', '.')}")
        return self.rng.choice(variants)

    # ---- population ---------------------------------------------------------------------
    def population(self, n: int) -> list[_Person]:
        self.kiosks = [f"kiosk-store{s}" for s in range(1, max(2, n // 250) + 1)]
        people = [self.person(i) for i in range(n)]
        i = 0
        while i < n - 1:
            if self.rng.random() < 0.04:
                size = min(self.rng.choice((2, 3)), n - i)
                tablet = _Device(f"tablet-{i}", True, self.short_id("a"), shared=True)
                for member in people[i : i + size]:
                    member.tablet = tablet
                    member.user_id = member.user_id or f"u-{member.idx}"
                i += size
            else:
                i += 1
        return people

    def person(self, idx: int) -> _Person:
        r = self.rng
        email = f"{r.choice(_FIRST)}.{r.choice(_LAST)}{idx}@{r.choice(_DOMAINS)}"
        phone = f"{6 + idx % 2}{(idx * 7919 + 1234567) % 10**8:08d}"
        devices = [self.device(r.random() < 0.55) for _ in range(r.choice((1, 1, 2, 2, 3)))]
        return _Person(
            idx, email if r.random() < 0.8 else None, phone if r.random() < 0.45 else None,
            f"L-{idx * 3 + 11}" if r.random() < 0.35 else None,
            f"C-{idx * 7 + 5}" if r.random() < 0.3 else None,
            f"u-{idx}" if r.random() < 0.8 else None, devices,
        )

    def device(self, web: bool) -> _Device:
        return _Device(self.short_id("d"), web, self.short_id("a") if web else None)

    # ---- emission -----------------------------------------------------------------------
    def emit(self, p: _Person, at: int, channel: str, event_type: str, touchpoint: str,
             ids: dict[str, str | None], props: dict[str, Any] | None = None,
             delay: int = 0) -> None:
        if channel not in CHANNELS or event_type not in EVENT_TYPES:
            raise ValueError(f"{channel}/{event_type} not in schemas/taxonomy.toml")
        identifiers = {k: v for k, v in ids.items() if v}
        if not identifiers or at > self.t_end:
            return
        payload: dict[str, Any] = {
            "event_id": self.uuid(), "event_type": event_type, "occurred_at": self.stamp(at),
            "channel": channel, "touchpoint": touchpoint, "identifiers": identifiers,
            "properties": props or {},
        }
        if channel in ("web", "app"):
            payload["context"] = {"locale": "fr-FR"}
        if "email" in identifiers:
            self.raw_emails.add(identifiers["email"])
        if "phone" in identifiers:
            self.raw_phones.add(identifiers["phone"])
        if "user_id" in identifiers:
            self.user_ids[p.idx].add(identifiers["user_id"])
        if event_type == "purchase":
            self.revenue_cents += round(payload["properties"]["revenue"] * 100)
        if channel == "web" and self.rng.random() < self.segment_rate:
            payload = _segment(payload) or payload
        if self.rng.random() < 0.05:
            delay += self.rng.randint(1_000, 3 * _MIN)
        self.events.append(_Event(at + delay, len(self.events), p.idx, payload))

    def gap(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    # ---- journey stages -----------------------------------------------------------------
    def journey(self, p: _Person) -> None:
        r = self.rng
        self.user_ids[p.idx] = set()
        at = self.t0 + r.randrange(int((self.t_end - self.t0) * 0.7))
        at, campaign = self.awareness(p, at)
        sessions = 1 + min(int(r.expovariate(0.8)), 6)
        buys = {r.randrange(sessions)} if r.random() < 0.35 else set()
        if buys and r.random() < 0.25:
            buys.add(sessions)
            sessions += 1
        s = 0
        while s < sessions:
            tablet = p.tablet if p.tablet and (s == 0 or r.random() < 0.4) else None
            in_store = s in buys and p.loyalty_id is not None and r.random() < 0.4
            if not tablet and (in_store or (p.loyalty_id and r.random() < 0.08)):
                at = self.store_trip(p, at, buy=s in buys)
            else:
                in_store = False
                at = self.browse(p, tablet or r.choice(p.devices), at, s in buys, campaign)
            if s in buys:
                happy = self.after_purchase(p, at, online=not in_store)
                # A good after-purchase experience brings customers back (a moment of truth).
                if s == max(buys) and sessions < 12 and r.random() < (0.3 if happy else 0.03):
                    buys.add(sessions)
                    sessions += 1
                    at = max(at, self.after_at)  # they come back after the survey
            campaign = None
            at += self.gap(40 * _MIN, 6 * _HOUR) if r.random() < 0.4 else self.gap(_HOUR, 3 * _DAY)
            s += 1

    def awareness(self, p: _Person, at: int) -> tuple[int, str | None]:
        r, campaign = self.rng, None
        device = r.choice(p.devices)
        for _ in range(r.choice((0, 1, 1, 2))):
            campaign = f"ad-{r.randint(1, 20)}"
            ids = {"device_id": device.device_id, "anonymous_id": device.anonymous_id}
            self.emit(p, at, "ads", "ad_impression", "display_banner", ids, {"campaign": campaign})
            at += self.gap(5_000, 2 * _HOUR)
            if r.random() < 0.3:
                self.emit(p, at, "ads", "ad_click", "display_banner", ids, {"campaign": campaign})
                return at + self.gap(2_000, 20_000), campaign
        if p.email and r.random() < 0.6:
            campaign = f"nl-{r.randint(1, 12)}"
            self.emit(p, at, "email", "email_open", "newsletter", {"email": self.email(p)},
                      {"campaign": campaign})
            if r.random() < 0.5:
                at += self.gap(5_000, 10 * _MIN)
                self.emit(p, at, "email", "email_click", "newsletter", {"email": self.email(p)},
                          {"campaign": campaign})
                return at + self.gap(2_000, 20_000), campaign
        return at + self.gap(10 * _MIN, _DAY), None

    def browse(self, p: _Person, d: _Device, at: int, buy: bool, campaign: str | None) -> int:
        r = self.rng
        channel = "web" if d.web else "app"
        delay = r.randint(2 * _HOUR, 8 * _HOUR) if not d.web and r.random() < 0.12 else 0
        if d.shared:
            d.logged_in.clear()
        elif d.web and r.random() < 0.08:  # cookie reset: new anonymous_id, logged out
            d.anonymous_id = self.short_id("a")
            d.logged_in.discard(p.idx)
        steps = ["home"] + r.choices(("search", "product_page"), k=r.randint(1, 3))
        steps += ["cart", "checkout", "purchase"] if buy else ["cart"] if r.random() < 0.2 else []
        wants_login = p.user_id and p.idx not in d.logged_in
        if wants_login and (d.shared or buy or r.random() < 0.6):
            steps.insert(0 if d.shared else r.randint(1, len(steps) - (3 if buy else 0)), "login")
        for step in steps:
            at += self.gap(5_000, 150_000)
            self.page(p, d, at, channel, step, campaign if step == "home" else None, delay)
        return at

    def page(self, p: _Person, d: _Device, at: int, channel: str, step: str,
             campaign: str | None, delay: int) -> None:
        if step == "login":
            d.logged_in.add(p.idx)
        ids: dict[str, str | None] = {"device_id": d.device_id, "anonymous_id": d.anonymous_id}
        ambiguous = d.shared and step != "login" and self.rng.random() < 0.03
        if p.idx in d.logged_in and not ambiguous:
            ids["user_id"] = p.user_id
        props: dict[str, Any] = {"campaign": campaign} if campaign else {}
        if step == "login":
            ids["email"] = self.email(p)
        elif step == "purchase":
            props = self.order()
            ids["email"] = None if "user_id" in ids else self.email(p)  # guest checkout
        home = "page_view" if channel == "web" else "screen_view"
        types = {"home": home, "product_page": "product_view", "cart": "add_to_cart"}
        self.emit(p, at, channel, types.get(step, step), step, ids, props, delay)

    def order(self, store: str | None = None) -> dict[str, Any]:
        cents = self.rng.randint(990, 25_000)
        self.counter += 1
        props: dict[str, Any] = {"revenue": cents / 100, "currency": "EUR",
                                 "order_id": f"O-{self.counter}"}
        if store:
            props["store"] = store
        return props

    def store_trip(self, p: _Person, at: int, buy: bool) -> int:
        r = self.rng
        kiosk = r.choice(self.kiosks)
        store = kiosk.removeprefix("kiosk-")
        self.emit(p, at, "store", "store_visit", "entrance", {"loyalty_id": p.loyalty_id},
                  {"store": store})
        if p.loyalty_id and r.random() < 0.6:
            for _ in range(r.randint(1, 2)):
                at += self.gap(30_000, 6 * _MIN)
                ambiguous = r.random() < 0.03
                ids = {"device_id": kiosk, "loyalty_id": None if ambiguous else p.loyalty_id}
                self.emit(p, at, "store", "product_view", "kiosk", ids, {"store": store})
        if buy:
            at += self.gap(2 * _MIN, 30 * _MIN)
            ids = {"loyalty_id": p.loyalty_id} if p.loyalty_id else {"email": self.email(p)}
            self.emit(p, at, "store", "purchase", "checkout_counter", ids, self.order(store))
        return at

    def after_purchase(self, p: _Person, at: int, online: bool) -> bool:
        """Delivery, billing, support and a survey; returns whether the experience was good."""
        r = self.rng
        happy = r.random() < 0.7
        contact = {"email": self.email(p)} if p.email and r.random() < 0.7 else {}
        contact = contact or {"phone": self.phone(p)}
        if online:
            at += self.gap(30 * _MIN, 6 * _HOUR)
            self.emit(p, at, "delivery", "delivery_scheduled", "carrier", contact)
            at += self.gap(_DAY, 3 * _DAY)
            self.emit(p, at, "delivery", "delivery_completed", "carrier", contact)
        email = self.email(p) if not p.crm_id or r.random() < 0.5 else None
        billing = {"crm_id": p.crm_id, "email": email}
        self.emit(p, at + self.gap(_HOUR, _DAY), "billing", "invoice_sent", "e_invoice", billing)
        called = r.random() < (0.15 if happy else 0.6)  # problems make people call
        if called:
            ids = {"phone": self.phone(p), "crm_id": p.crm_id}
            self.emit(p, at + self.gap(_HOUR, 2 * _DAY), "call_center", "support_call", "hotline",
                      ids, {"duration_s": r.randint(30, 900)})
        if r.random() < 0.15:
            ids = {"user_id": p.user_id} if p.user_id else {"email": self.email(p)}
            self.emit(p, at + self.gap(_HOUR, 2 * _DAY), "chat", "chat_message", "chat_widget", ids)
        if p.email and r.random() < 0.35:
            rated = "hotline" if called and r.random() < 0.5 else "carrier" if online else "checkout_counter"
            csat, nps = (r.randint(4, 5), r.randint(8, 10)) if happy else (r.randint(1, 3), r.randint(0, 6))
            props = {"csat": csat, "nps": nps, "rated_touchpoint": rated}
            at += self.gap(_DAY, 4 * _DAY)
            self.emit(p, at, "survey", "survey_response", "post_purchase", {"email": self.email(p)},
                      props)
        self.after_at = at
        return happy


def _segment(ev: dict[str, Any]) -> dict[str, Any] | None:
    """The same web event as a Segment-spec message (schemas/segment.toml), or None."""
    ids, event_type = ev["identifiers"], ev["event_type"]
    if "anonymous_id" not in ids:
        return None
    traits = {k: ids[k] for k in ("email", "phone") if k in ids}
    msg: dict[str, Any] = {"type": "track", "messageId": ev["event_id"],
                           "anonymousId": ids["anonymous_id"]}
    if "user_id" in ids:
        msg["userId"] = ids["user_id"]
    msg["timestamp"] = ev["occurred_at"]
    if event_type == "page_view":
        msg.update(type="page", name=ev["touchpoint"], properties=ev["properties"])
    elif event_type == "login" and "email" in traits:
        msg.update(type="identify", traits=traits)
        return msg
    elif event_type in _SEGMENT_NAMES:
        props = {**ev["properties"], "touchpoint": ev["touchpoint"]}
        msg.update(event=_SEGMENT_NAMES[event_type], properties=props)
    else:
        return None
    if traits:
        msg["context"] = {"traits": traits}
    return msg


# ---- public API ---------------------------------------------------------------------------
def simulate(persons: int = 200, seed: int = 7, start: datetime | None = None, days: int = 14,
             malformed_rate: float = 0.005, duplicate_rate: float = 0.01,
             segment_rate: float = 0.1) -> Simulation:
    """Seeded journeys of `persons` persons over `days` days from `start` (default 2026-11-01Z)."""
    start = DEFAULT_START if start is None else start
    if start.tzinfo is None or days < 1 or persons < 0:
        raise ValueError("start must be timezone-aware, days >= 1 and persons >= 0")
    rng = random.Random(seed)
    gen = _Gen(rng, start, days, segment_rate)
    people = gen.population(persons)
    for person in people:
        gen.journey(person)
    events = sorted(gen.events, key=lambda e: (e.arrival, e.seq))
    valid = [orjson.dumps(e.payload) for e in events]
    kinds = list(MALFORMED_KINDS)
    rng.shuffle(kinds)
    count = round(len(valid) * malformed_rate)
    bad_lines = [malformed(gen, people, kinds[k % len(kinds)]) for k in range(count)]
    lines, bad, dup = interleave(rng, valid, bad_lines, duplicate_rate)
    truth = Truth(
        person_of_event={e.payload.get("event_id") or e.payload["messageId"]: e.person
                         for e in events},
        user_ids_of_person=gen.user_ids, malformed_lines=bad, duplicate_lines=dup,
        valid_event_count=len(events), purchase_revenue=round(gen.revenue_cents / 100, 2),
        raw_emails=gen.raw_emails, raw_phones=gen.raw_phones,
    )
    return Simulation(lines, truth)


def write_ndjson(sim: Simulation, path: Path) -> None:
    """One line per message, newline-terminated."""
    with Path(path).open("wb") as out:
        _write(sim, out)


def _write(sim: Simulation, out: Any) -> None:
    for k in range(0, len(sim.lines), 10_000):
        out.write(b"".join(line + b"\n" for line in sim.lines[k : k + 10_000]))


def truth_json(truth: Truth) -> dict[str, Any]:
    """The truth as plain JSON (sets as sorted lists, int keys as strings)."""
    return {
        "person_of_event": truth.person_of_event,
        "user_ids_of_person": {str(k): sorted(v) for k, v in truth.user_ids_of_person.items()},
        "malformed_lines": truth.malformed_lines, "duplicate_lines": truth.duplicate_lines,
        "valid_event_count": truth.valid_event_count,
        "purchase_revenue": truth.purchase_revenue,
        "raw_emails": sorted(truth.raw_emails), "raw_phones": sorted(truth.raw_phones),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jobs.simulate", description="Seeded omnichannel journeys as NDJSON."
    )
    parser.add_argument("--persons", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--start", type=datetime.fromisoformat, default=None,
                        help="RFC 3339 start with offset (default 2026-11-01T00:00:00Z)")
    parser.add_argument("--out", required=True, help="NDJSON output file, - for stdout")
    parser.add_argument("--truth", type=Path, help="write the ground truth as JSON here")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    print(f"simulating {args.persons} persons (seed {args.seed})...", file=sys.stderr)
    sim = simulate(args.persons, args.seed, args.start, args.days)
    if args.out == "-":
        _write(sim, sys.stdout.buffer)
    else:
        write_ndjson(sim, Path(args.out))
    if args.truth:
        args.truth.write_bytes(orjson.dumps(truth_json(sim.truth), option=orjson.OPT_INDENT_2))
    t = sim.truth
    print(f"{len(sim.lines)} lines: {t.valid_event_count} valid events, "
          f"{len(t.duplicate_lines)} duplicates, {len(t.malformed_lines)} malformed, "
          f"revenue {t.purchase_revenue:.2f} EUR, {time.perf_counter() - began:.1f} s",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
