"""The journey analytics tests' dataset (test_journeys.py, test_funnel.py): hand-made fact
rows for parcours.events / sessions / person_merges, and the oracle: the same rows read in
plain Python, to compare every view's numbers with.

The dataset exercises: a re-delivered event (same event_id, later ingested_at), a re-emitted
session (higher version), a merged person (pE2 -> pE), repeat purchases (pA), a conversion
more than lookback_days after the first touches (pC), a conversion without earlier touches
(pH), revenue on a non-conversion event (b02), channel switches less than, and exactly, 24 h
apart, survey answers rating another touchpoint (properties.rated_touchpoint), one rating a
touchpoint the person never visited, an answer both satisfied and dissatisfied (g02), and
journeys that end unconverted.
"""

from __future__ import annotations

import json
import tomllib
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline import SCHEMAS
from pipeline.taxonomy import taxonomy
from tests.conftest import empty

T0 = datetime(2026, 11, 2, tzinfo=UTC)
DAY_MS = 86_400_000
ROLLUP_TABLES = ("kpi_daily_state", "event_sessions")  # not (yet) in conftest.FACT_TABLES


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return T0 + timedelta(days=day, hours=hour, minutes=minute)


def ev(event_id: str, when: datetime, anchor: str, session_id: str, event_type: str, channel: str,
       touchpoint: str, stage: str, revenue: float = 0.0, *, csat: int | None = None,
       nps: int | None = None, rated: str | None = None, late_min: int = 1) -> dict[str, Any]:
    """One parcours.events row (person_id = anchor_id, as the identity stage writes them)."""
    return {
        "event_id": event_id, "occurred_at": when, "person_id": anchor, "anchor_id": anchor,
        "session_id": session_id, "event_type": event_type, "channel": channel,
        "touchpoint": touchpoint, "stage": stage, "revenue": revenue, "currency": "EUR",
        "order_id": f"o-{event_id}" if event_type == "purchase" else "", "csat": csat, "nps": nps,
        "identifiers": {"user_id": anchor},
        "properties": json.dumps({"rated_touchpoint": rated} if rated else {}),
        "context": "{}", "ingested_at": when + timedelta(minutes=late_min),
    }  # fmt: skip


EVENTS: list[dict[str, Any]] = [
    # pA: touches, a purchase, a rating of checkout, a repeat purchase in store, then service.
    ev("a01", at(0, 9), "pA", "sA1", "ad_click", "ads", "google_ads", "awareness"),
    ev("a02", at(0, 9, 5), "pA", "sA1", "page_view", "web", "homepage", "consideration"),
    ev("a03", at(0, 12), "pA", "sA2", "product_view", "web", "product_page", "consideration"),
    ev("a04", at(0, 13), "pA", "sA3", "support_call", "call_center", "hotline", "service"),
    ev("a05", at(1, 10), "pA", "sA4", "purchase", "web", "checkout", "purchase", 100.0),
    ev("a06", at(1, 10, 5), "pA", "sA4", "survey_response", "survey", "nps_survey", "loyalty",
       csat=5, nps=10, rated="checkout"),
    ev("a07", at(20, 9), "pA", "sA5", "page_view", "web", "homepage", "consideration"),
    ev("a08", at(25, 9), "pA", "sA6", "purchase", "store", "paris_store", "purchase", 50.0),
    # exactly 24 h after a08: not a switch
    ev("a09", at(26, 9), "pA", "sA7", "support_call", "call_center", "hotline", "service", csat=2),
    # rates the hotline: the latest hotline event before it is a09 (phase after), not a04
    ev("a10", at(26, 20), "pA", "sA8", "survey_response", "email", "nps_survey", "loyalty",
       nps=5, rated="hotline"),
    # pB never buys; revenue on add_to_cart is not revenue.
    ev("b01", at(0, 14), "pB", "sB1", "page_view", "web", "homepage", "consideration"),
    ev("b02", at(0, 14, 10), "pB", "sB1", "add_to_cart", "web", "product_page", "purchase", 30.0),
    ev("b03", at(0, 20), "pB", "sB2", "support_call", "call_center", "hotline", "service",
       csat=1, nps=3),
    ev("b04", at(1, 8), "pB", "sB3", "survey_response", "email", "nps_survey", "loyalty",
       nps=6, rated="hotline"),
    # pC: first touches 40 days before the purchase (outside a 30-day lookback).
    ev("c01", at(0, 8), "pC", "sC1", "email_open", "email", "newsletter", "awareness"),
    ev("c02", at(0, 8, 30), "pC", "sC1", "survey_response", "survey", "nps_survey", "loyalty",
       csat=4, rated="newsletter"),
    ev("c03", at(40, 10), "pC", "sC2", "page_view", "web", "homepage", "consideration"),
    ev("c04", at(40, 10, 5), "pC", "sC2", "purchase", "web", "checkout", "purchase", 80.0),
    # pE: app -> hotline -> chat (as pE2, merged into pE) -> purchase in the app.
    ev("e01", at(2, 10), "pE", "sE1", "screen_view", "app", "app_home", "consideration"),
    ev("e02", at(2, 18), "pE", "sE2", "support_call", "call_center", "hotline", "service", csat=1),
    ev("e03", at(3, 9), "pE2", "sE3", "chat_message", "chat", "live_chat", "service", nps=9),
    ev("e04", at(5, 9), "pE", "sE4", "purchase", "app", "app_checkout", "purchase", 200.0),
    ev("e05", at(5, 9, 10), "pE", "sE4", "survey_response", "survey", "nps_survey", "loyalty",
       csat=3, rated="delivery_home"),
    # pF: web then hotline exactly 24 h later (no switch), then the help center 1 h later.
    ev("f01", at(3, 10), "pF", "sF1", "page_view", "web", "homepage", "consideration"),
    ev("f02", at(4, 10), "pF", "sF2", "support_call", "call_center", "hotline", "service", csat=4),
    ev("f03", at(4, 11), "pF", "sF3", "page_view", "web", "help_center", "consideration"),
    # pG: a bounce, re-delivered, then an answer that is satisfied (csat 5) and not (nps 2).
    ev("g01", at(2, 11), "pG", "sG1", "page_view", "web", "homepage", "consideration"),
    ev("g01", at(2, 11), "pG", "sG1", "page_view", "web", "homepage", "consideration",
       late_min=170),
    ev("g02", at(2, 12), "pG", "sG2", "survey_response", "survey", "nps_survey", "loyalty",
       csat=5, nps=2, rated="homepage"),
    # pH: a purchase with no earlier touch, then rates checkout badly (never visited it).
    ev("h01", at(6, 15), "pH", "sH1", "purchase", "store", "lyon_store", "purchase", 30.0),
    ev("h02", at(6, 15, 20), "pH", "sH1", "survey_response", "survey", "nps_survey", "loyalty",
       csat=1, rated="checkout"),
]  # fmt: skip
EVENT_COLUMNS = list(EVENTS[0])
PERSON_MERGES = [("pE2", "pE", "login", "e03", at(3, 9, 1), 1)]
PERSON_MERGE_COLUMNS = ["from_person", "to_person", "reason", "event_id", "merged_at", "version"]
SESSION_COLUMNS = ["session_id", "person_id", "started_at", "ended_at", "event_count", "channels",
                   "entry_touchpoint", "exit_touchpoint", "converted", "revenue", "version"]


def conversion_types() -> frozenset[str]:
    return frozenset(taxonomy().conversion_event_types)


def lookback_ms() -> int:
    settings = tomllib.loads((SCHEMAS / "attribution.toml").read_text())
    return int(float(settings["lookback_days"]) * DAY_MS)


def unique_events() -> list[dict[str, Any]]:
    """Re-deliveries collapse: the last ingested version of an event_id wins."""
    latest: dict[str, dict[str, Any]] = {}
    for e in EVENTS:
        if e["event_id"] not in latest or e["ingested_at"] >= latest[e["event_id"]]["ingested_at"]:
            latest[e["event_id"]] = e
    return list(latest.values())


def session_rows() -> list[tuple[Any, ...]]:
    """Session facts derived from the events, plus an older version of sA1 (a bounce then)."""
    by_session: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in unique_events():
        by_session[e["session_id"]].append(e)
    rows = []
    for sid, events in by_session.items():
        events.sort(key=lambda e: (e["occurred_at"], e["event_id"]))
        channels = list(dict.fromkeys(e["channel"] for e in events))
        conv = [e for e in events if e["event_type"] in conversion_types()]
        first, last = events[0], events[-1]
        rows.append((sid, first["anchor_id"], first["occurred_at"], last["occurred_at"],
                     len(events), channels, first["touchpoint"], last["touchpoint"],
                     int(bool(conv)), sum(e["revenue"] for e in conv), 5))
    sa1 = next(r for r in rows if r[0] == "sA1")
    rows.append((*sa1[:3], sa1[2], 1, sa1[5][:1], sa1[6], sa1[6], 0, 0.0, 1))
    return rows


def insert_events(client: Any, events: list[dict[str, Any]]) -> None:
    client.insert("parcours.events", [[e[c] for c in EVENT_COLUMNS] for e in events],
                  column_names=EVENT_COLUMNS)


def truncate_all(client: Any) -> None:
    empty(client)
    for table in ROLLUP_TABLES:
        client.command(f"TRUNCATE TABLE IF EXISTS parcours.{table}")



def rows(client: Any, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in client.query(sql).result_rows]


# ---- the oracle: the same rows, plain Python -------------------------------------------------


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def events() -> list[dict[str, Any]]:
    """What v_events holds: unique events, persons re-attributed through person_merges."""
    canonical = {old: new for old, new, *_ in PERSON_MERGES}
    return [{**e, "person_id": canonical.get(e["person_id"], e["person_id"])}
            for e in unique_events()]


def journeys() -> dict[str, list[dict[str, Any]]]:
    by_person: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events():
        by_person[e["person_id"]].append(e)
    return {p: sorted(v, key=lambda e: (e["occurred_at"], is_conversion(e), e["event_id"]))
            for p, v in by_person.items()}  # a purchase after what happened in its millisecond


def is_conversion(e: dict[str, Any]) -> bool:
    return e["event_type"] in conversion_types()


def conversion_times() -> dict[str, list[int]]:
    return {p: [ms(e["occurred_at"]) for e in evs if is_conversion(e)]
            for p, evs in journeys().items()}


def phase_of() -> dict[str, str]:
    converting_sessions = {e["session_id"] for e in events() if is_conversion(e)}
    times, lookback = conversion_times(), lookback_ms()
    phases = {}
    for e in events():
        t, convs = ms(e["occurred_at"]), times.get(e["person_id"], [])
        if e["session_id"] in converting_sessions:
            phases[e["event_id"]] = "during"
        elif e["stage"] in taxonomy().after_sales_stages and any(c <= t for c in convs):
            phases[e["event_id"]] = "after"  # care after a purchase, whatever lies ahead
        elif any(t < c <= t + lookback for c in convs):
            phases[e["event_id"]] = "before"
        elif any(c <= t for c in convs):
            phases[e["event_id"]] = "after"
        else:
            phases[e["event_id"]] = "before"
    return phases


def pairs() -> list[tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]]:
    """(event, next event, the one after) for consecutive events of each person."""
    out = []
    for evs in journeys().values():
        for i in range(len(evs) - 1):
            out.append((evs[i], evs[i + 1], evs[i + 2] if i + 2 < len(evs) else None))
    return out


def ratings() -> list[dict[str, Any]]:
    """Survey answers with their rated touchpoint and the rated interaction's attributes."""
    phases, by_person, out = phase_of(), journeys(), []
    for e in events():
        if e["csat"] is None and e["nps"] is None:
            continue
        rated = json.loads(e["properties"]).get("rated_touchpoint") or e["touchpoint"]
        seen = [x for x in by_person[e["person_id"]]
                if x["touchpoint"] == rated and x["occurred_at"] <= e["occurred_at"]]
        target = max(seen, key=lambda x: x["occurred_at"]) if seen else e
        out.append({"event": e, "touchpoint": rated, "channel": target["channel"],
                    "stage": target["stage"], "phase": phases[target["event_id"]]})
    return out
