"""jobs.summary against embedded chDB: hand-made fact rows -> Summary equals a plain-Python oracle.

The rows exercise what the views do: a re-delivered event (same event_id, later ingested_at)
counts once, a re-emitted session (higher version) replaces the older one, a merged person
(person_merges) is counted under its canonical id, a retried dead letter (same source) counts
once, and an unknown channel gets category/ownership "unknown".

chDB allows one engine per process. The fixture reuses, in this order: the chDB directory in
PARCOURS_TEST_CHDB_DIR, an embedded client another test module already opened through
`pipeline.sink.clickhouse.connect` (same engine, so no second path), or a fresh tmp dir. The
fact tables are truncated before the dataset is inserted and again afterwards, so the module
neither depends on nor leaves rows for other modules.
"""

from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from jobs.summary import Summary, render_terminal, summarize
from pipeline.settings import Settings
from pipeline.sink import clickhouse as ch
from pipeline.sink.migrations import migrate
from pipeline.taxonomy import taxonomy

pytestmark = pytest.mark.integration

FACT_TABLES = (
    "events",
    "sessions",
    "identities",
    "person_merges",
    "session_merges",
    "dead_letters",
    "identity_first_seen",
)
T0 = datetime(2026, 11, 2, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return T0 + timedelta(days=day, hours=hour, minutes=minute)


def ev(
    event_id: str,
    occurred_at: datetime,
    person_id: str,
    session_id: str,
    event_type: str,
    channel: str,
    touchpoint: str,
    stage: str,
    revenue: float = 0.0,
    *,
    csat: int | None = None,
    nps: int | None = None,
    late_min: int = 1,
) -> dict[str, Any]:
    """One parcours.events row; ingested `late_min` minutes after it occurred."""
    return {
        "event_id": event_id, "occurred_at": occurred_at, "person_id": person_id,
        "anchor_id": person_id, "session_id": session_id, "event_type": event_type, "channel": channel,
        "touchpoint": touchpoint, "stage": stage, "revenue": revenue, "currency": "EUR",
        "order_id": f"o-{event_id}" if event_type == "purchase" else "", "csat": csat, "nps": nps,
        "identifiers": {"user_id": person_id}, "properties": "{}", "context": "{}",
        "ingested_at": occurred_at + timedelta(minutes=late_min),
    }  # fmt: skip


EVENTS: list[dict[str, Any]] = [
    ev("e01", at(0, 9), "p1", "s1", "ad_click", "ads", "google_ads", "awareness"),
    ev("e02", at(0, 9, 5), "p1", "s1", "page_view", "web", "homepage", "consideration"),
    ev("e03", at(0, 9, 10), "p1", "s1", "purchase", "web", "checkout", "purchase", 120.5),
    # re-delivery of e03 (retried batch): same fact, later ingested_at -> counted once
    ev("e03", at(0, 9, 10), "p1", "s1", "purchase", "web", "checkout", "purchase", 120.5,
       late_min=170),
    ev("e04", at(0, 14), "p2", "s2", "page_view", "web", "homepage", "consideration"),
    ev("e05", at(1, 10), "p2", "s3", "store_visit", "store", "paris_store", "consideration"),
    # revenue on a non-conversion event must not count as revenue
    ev("e06", at(1, 10, 10), "p2", "s3", "add_to_cart", "store", "paris_store", "purchase", 30.0),
    ev("e07", at(1, 10, 20), "p2", "s3", "purchase", "store", "paris_store", "purchase", 80.0),
    ev("e08", at(1, 18), "p3", "s4", "email_open", "email", "newsletter", "awareness"),
    ev("e09", at(1, 18, 2), "p3", "s4", "page_view", "web", "homepage", "consideration"),
    # p4 is merged into p1 (PERSON_MERGES)
    ev("e10", at(2, 8), "p4", "s5", "survey_response", "survey", "nps_survey", "loyalty",
       csat=5, nps=10),
    ev("e11", at(2, 8, 30), "p3", "s6", "support_call", "call_center", "hotline", "service",
       csat=3, nps=6),
    ev("e12", at(2, 9), "p2", "s7", "survey_response", "survey", "nps_survey", "loyalty",
       csat=4, nps=8),
    # "kiosk" is not in the taxonomy: category and ownership "unknown"
    ev("e13", at(2, 11), "p5", "s8", "page_view", "kiosk", "kiosk_lyon", "unknown"),
    ev("e14", at(2, 11, 5), "p5", "s8", "purchase", "kiosk", "kiosk_lyon", "purchase", 45.25,
       csat=2),
    ev("e15", at(2, 15), "p1", "s9", "page_view", "web", "homepage", "consideration", nps=0),
]  # fmt: skip
EVENT_COLUMNS = list(EVENTS[0])

SESSION_COLUMNS = ["session_id", "person_id", "started_at", "ended_at", "event_count",
                   "channels", "entry_touchpoint", "exit_touchpoint", "converted", "revenue",
                   "version"]  # fmt: skip
SESSIONS: list[tuple[Any, ...]] = [
    ("s1", "p1", at(0, 9), at(0, 9, 10), 3, ["ads", "web"], "google_ads", "checkout", 1, 120.5, 3),
    ("s2", "p2", at(0, 14), at(0, 14), 1, ["web"], "homepage", "homepage", 0, 0.0, 1),
    # s3 emitted twice: the higher version wins
    ("s3", "p2", at(1, 10), at(1, 10), 1, ["store"], "paris_store", "paris_store", 0, 0.0, 1),
    ("s3", "p2", at(1, 10), at(1, 10, 20), 3, ["store"], "paris_store", "paris_store", 1, 80.0, 3),
    ("s4", "p3", at(1, 18), at(1, 18, 2), 2, ["email", "web"], "newsletter", "homepage", 0, 0.0, 2),
    ("s5", "p4", at(2, 8), at(2, 8), 1, ["survey"], "nps_survey", "nps_survey", 0, 0.0, 1),
    ("s6", "p3", at(2, 8, 30), at(2, 8, 30), 1, ["call_center"], "hotline", "hotline", 0, 0.0, 1),
    ("s7", "p2", at(2, 9), at(2, 9), 1, ["survey"], "nps_survey", "nps_survey", 0, 0.0, 1),
    ("s8", "p5", at(2, 11), at(2, 11, 5), 2, ["kiosk"], "kiosk_lyon", "kiosk_lyon", 1, 45.25, 2),
    ("s9", "p1", at(2, 15), at(2, 15), 1, ["web"], "homepage", "homepage", 0, 0.0, 1),
]  # fmt: skip

IDENTITY_COLUMNS = ["kind", "value", "person_id", "anchor_id", "first_seen"]
IDENTITIES: list[tuple[Any, ...]] = [
    ("user_id", "u-1", "p1", "p1", at(0, 9)),
    ("email", "h:aa11", "p4", "p4", at(2, 8)),
    ("loyalty_id", "L-2", "p2", "p2", at(1, 10)),
    ("device_id", "d-5", "p5", "p5", at(2, 11)),
]

PERSON_MERGE_COLUMNS = ["from_person", "to_person", "reason", "event_id", "merged_at", "version"]
PERSON_MERGES: list[tuple[Any, ...]] = [("p4", "p1", "shared_email", "e10", at(2, 8, 1), 1)]

DEAD_LETTER_COLUMNS = ["received_at", "source", "reason", "raw", "replay_id"]
DEAD_LETTERS: list[tuple[Any, ...]] = [
    (at(0, 10), "events/0/17", "not_json: unexpected character at 1", "{oops", ""),
    (at(0, 11), "events/1/40", "not_json: empty line", "", ""),
    # retried sink batch: the same source again -> counted once
    (at(0, 11), "events/1/40", "not_json: empty line", "", ""),
    (at(1, 9), "events/0/90", "missing_event_id: no event_id", '{"channel":"web"}', ""),
    (at(2, 7), "events/2/12", "invalid_event: TypeError", '{"event_id":1}', ""),
    (at(2, 7, 5), "events/2/13", "oversized", "", ""),
]


NO_SALT_FILE = {"PARCOURS_PII_SALT": "summary-test"}  # no pii_salt file in the data dir


def _open_client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    explicit = os.environ.get("PARCOURS_TEST_CHDB_DIR")
    if explicit:
        url = f"chdb://{Path(explicit).resolve()}"
        env = {"PARCOURS_DATA_DIR": explicit, "PARCOURS_CLICKHOUSE_URL": url, **NO_SALT_FILE}
        return ch.connect(Settings.from_env(env))
    already = [client for url, client in ch._clients.items() if url.startswith("chdb://")]
    if already:  # another module opened the process's one engine: share it
        return already[0]
    data_dir = tmp_path_factory.mktemp("summary_chdb")
    return ch.connect(Settings.from_env({"PARCOURS_DATA_DIR": str(data_dir), **NO_SALT_FILE}))


def _truncate(client: Any) -> None:
    for table in FACT_TABLES:
        client.command(f"TRUNCATE TABLE IF EXISTS parcours.{table}")


def load_dataset(client: Any) -> None:
    """Empty the fact tables, then insert this module's rows."""
    _truncate(client)
    tables = [
        ("events", [[e[c] for c in EVENT_COLUMNS] for e in EVENTS], EVENT_COLUMNS),
        ("sessions", SESSIONS, SESSION_COLUMNS),
        ("identities", IDENTITIES, IDENTITY_COLUMNS),
        ("person_merges", PERSON_MERGES, PERSON_MERGE_COLUMNS),
        ("dead_letters", DEAD_LETTERS, DEAD_LETTER_COLUMNS),
    ]
    for table, rows, columns in tables:
        client.insert(f"parcours.{table}", [list(r) for r in rows], column_names=columns)


@pytest.fixture(scope="module")
def summary_client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    client = _open_client(tmp_path_factory)
    migrate(client)
    load_dataset(client)
    yield client
    _truncate(client)


@pytest.fixture(scope="module")
def summary(summary_client: Any) -> Summary:
    return summarize(summary_client)


# ---- the oracle: the same rows, plain Python ------------------------------------------------


def oracle() -> dict[str, Any]:
    conversion_types = taxonomy().conversion_event_types
    canonical = {from_p: to_p for from_p, to_p, *_ in PERSON_MERGES}
    latest: dict[str, dict[str, Any]] = {}
    for e in EVENTS:  # re-deliveries: the last ingested version of an event_id wins
        if e["event_id"] not in latest or e["ingested_at"] >= latest[e["event_id"]]["ingested_at"]:
            latest[e["event_id"]] = e
    events = [{**e, "person_id": canonical.get(e["person_id"], e["person_id"])}
              for e in latest.values()]  # fmt: skip
    sessions: dict[str, tuple[Any, ...]] = {}
    for row in SESSIONS:  # the highest version of a session wins
        if row[0] not in sessions or row[10] >= sessions[row[0]][10]:
            sessions[row[0]] = row
    conversions = [e for e in events if e["event_type"] in conversion_types]
    dead = {source: reason for _at, source, reason, _raw, _rid in DEAD_LETTERS}
    csats = [e["csat"] for e in events if e["csat"] is not None]
    npss = [e["nps"] for e in events if e["nps"] is not None]
    codes = Counter(reason.split(":", 1)[0].strip() for reason in dead.values())

    by_channel: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        by_channel[e["channel"]].append(e)
    touchpoints = Counter((e["touchpoint"], e["channel"]) for e in events)
    return {
        "events": len(events),
        "persons": len({e["person_id"] for e in events}),
        "sessions": len(sessions),
        "conversions": len(conversions),
        "revenue": sum(e["revenue"] for e in conversions),
        "bounce_rate": sum(1 for s in sessions.values() if s[4] == 1) / len(sessions),
        "avg_session_events": sum(s[4] for s in sessions.values()) / len(sessions),
        "csat_avg": sum(csats) / len(csats),
        "nps": 100 * (sum(n >= 9 for n in npss) - sum(n <= 6 for n in npss)) / len(npss),
        "dead_letters": len(dead),
        "dead_reasons": sorted(codes.items(), key=lambda kv: (-kv[1], kv[0])),
        "channels": sorted(by_channel, key=lambda c: (-len(by_channel[c]), c)),
        "channel": {
            c: (
                len(v),
                len({e["person_id"] for e in v}),
                len({e["session_id"] for e in v}),
                sum(e["event_type"] in conversion_types for e in v),
                sum(e["revenue"] for e in v if e["event_type"] in conversion_types),
            )
            for c, v in by_channel.items()
        },
        "stage_counts": Counter(e["stage"] for e in events),
        "days": sorted({e["occurred_at"].date() for e in events}),
        "day_events": Counter(e["occurred_at"].date() for e in events),
        "day_sessions": Counter(s[2].date() for s in sessions.values()),
        "top_touchpoint": touchpoints.most_common(1)[0],
    }


# ---- tests -----------------------------------------------------------------------------------


def test_headline_numbers(summary: Summary) -> None:
    want = oracle()
    assert summary.events == want["events"]
    assert summary.persons == want["persons"]
    assert summary.sessions == want["sessions"]
    assert summary.conversions == want["conversions"]
    assert summary.revenue == pytest.approx(want["revenue"])
    assert summary.bounce_rate == pytest.approx(want["bounce_rate"])
    assert summary.avg_session_events == pytest.approx(want["avg_session_events"])
    assert summary.csat_avg == pytest.approx(want["csat_avg"])
    assert summary.nps == pytest.approx(want["nps"])
    # the dataset really exercises dedupe, merges and non-conversion revenue
    assert (summary.events, summary.persons, summary.sessions, summary.conversions) == (15, 4, 9, 3)
    assert summary.revenue == pytest.approx(245.75)


def test_dead_letters(summary: Summary) -> None:
    want = oracle()
    assert summary.dead_letters == want["dead_letters"] == 5
    assert summary.dead_letter_reasons == want["dead_reasons"]
    assert summary.dead_letter_reasons[0] == ("not_json", 2)


def test_channels(summary: Summary) -> None:
    want = oracle()
    tax = taxonomy()
    assert [c[0] for c in summary.top_channels] == want["channels"]
    for name, category, ownership, *numbers in summary.top_channels:
        known = tax.channels.get(name)
        expected = (known.category, known.ownership) if known else ("unknown", "unknown")
        assert (category, ownership) == expected
        assert numbers[:4] == list(want["channel"][name][:4])
        assert numbers[4] == pytest.approx(want["channel"][name][4])
    assert dict((c[0], c[1]) for c in summary.top_channels)["kiosk"] == "unknown"
    assert sum(c[6] for c in summary.top_channels) == summary.conversions


def test_touchpoints_daily_stages(summary: Summary) -> None:
    want = oracle()
    (touchpoint, channel), events = want["top_touchpoint"]
    assert summary.top_touchpoints[0][:3] == (touchpoint, channel, events)
    assert len(summary.top_touchpoints) <= 10
    assert sum(t[2] for t in summary.top_touchpoints) == summary.events  # fewer than 10 here
    assert [d[0] for d in summary.daily] == want["days"]
    assert {d[0]: d[1] for d in summary.daily} == want["day_events"]
    assert {d[0]: d[2] for d in summary.daily} == want["day_sessions"]
    assert sum(d[3] for d in summary.daily) == summary.conversions
    assert sum(d[4] for d in summary.daily) == pytest.approx(summary.revenue)
    assert {s: n for s, n, _p in summary.stages} == want["stage_counts"]
    funnel = ["awareness", "consideration", "purchase", "service", "loyalty"]
    expected_order = [s for s in funnel if s in want["stage_counts"]] + ["unknown"]
    assert [s for s, *_ in summary.stages] == expected_order


def test_render_terminal(summary: Summary) -> None:
    want = oracle()
    text = render_terminal(summary)
    assert len(text.splitlines()) <= 32
    assert re.search(rf"\bevents\s+{want['events']:,}\b", text)
    assert re.search(rf"\bpersons\s+{want['persons']:,}\b", text)
    assert re.search(rf"\bsessions\s+{want['sessions']:,}\b", text)
    assert re.search(rf"\bconversions\s+{want['conversions']:,}\b", text)
    assert f"{want['revenue']:,.2f} EUR" in text
    assert re.search(rf"\bdead letters\s+{want['dead_letters']}\b", text)
    assert "not_json 2" in text
    assert f"{want['bounce_rate'] * 100:.1f}%" in text
    assert f"{want['nps']:+.1f}" in text
    assert f"{want['csat_avg']:.2f}" in text


