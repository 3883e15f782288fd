"""One event per event_id across replays: a later replay into the same data dir re-sends ids with
(a) another day, (b) another event_type, (c) another month, (d) the same content. The
ReplacingMergeTree key (day, event_type, event_id) kept both versions of (a)-(c); the version
ingested last is the event (events_current, 0023), and the clean-up after the replay re-cuts
the sessions and restates the KPI days of both versions. `parcours resessionize --all` gives the
same."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import query, run_cli

pytestmark = pytest.mark.integration

GAP_MS = 30 * 60_000


def event(event_id: str, at: str, event_type: str, touchpoint: str, user: str, revenue: float = 0.0,
          channel: str = "web") -> dict[str, Any]:
    properties = {"revenue": revenue, "currency": "EUR"} if revenue else {}
    return {"event_id": event_id, "event_type": event_type, "occurred_at": at, "channel": channel,
            "touchpoint": touchpoint, "identifiers": {"user_id": user}, "properties": properties}


FIRST = [
    event("a1", "2026-10-05T10:00:00Z", "page_view", "homepage", "u-A"),
    event("a2", "2026-10-05T10:10:00Z", "product_view", "product_page", "u-A"),
    event("a3", "2026-10-05T10:20:00Z", "checkout", "checkout", "u-A"),
    event("a4", "2026-10-05T10:25:00Z", "purchase", "checkout", "u-A", 100.0),
    event("a5", "2026-10-07T09:00:00Z", "survey_response", "nps_survey", "u-A", channel="survey"),
    event("a6", "2026-10-31T23:50:00Z", "page_view", "homepage", "u-A"),
    event("a7", "2026-11-01T00:05:00Z", "product_view", "product_page", "u-A"),
    event("b1", "2026-10-05T00:10:00Z", "ad_click", "google_ads", "u-B", channel="ads"),
    event("b2", "2026-10-05T00:20:00Z", "purchase", "checkout", "u-B", 50.0),
]
RESENT = {
    "a4": {"occurred_at": "2026-10-06T09:00:00Z", "properties": {"revenue": 120.0, "currency": "EUR"}},  # (a)
    "b1": {"occurred_at": "2026-10-04T23:55:00Z", "touchpoint": "facebook_ads"},  # (a), still next to b2
    "a3": {"event_type": "purchase", "properties": {"revenue": 80.0, "currency": "EUR"}},  # (b)
    "a6": {"occurred_at": "2026-11-01T00:00:00Z"},  # (c): October -> November, next to a7
    "a5": {},  # (d)
    "b2": {},  # (d)
}
SECOND = [{**e, **RESENT[e["event_id"]]} for e in FIRST if e["event_id"] in RESENT]
CURRENT = {e["event_id"]: e for e in FIRST} | {e["event_id"]: e for e in SECOND}


def write(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    return path


@pytest.fixture(scope="module")
def resent(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("resend")
    data_dir = root / "data"
    for name, events in (("first", FIRST), ("second", SECOND)):
        done = run_cli(["replay", str(write(root / f"{name}.ndjson", events))], data_dir,
                       env={"PARCOURS_SESSION_GAP": "30m"})
        assert done.returncode == 0, done.stderr[-3000:]
    return data_dir


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def assert_consistent(data_dir: Path) -> None:
    """Every view agrees with one current version per event_id."""
    events = query(data_dir, "SELECT event_id, toUnixTimestamp64Milli(occurred_at) AS at, "
                             "toString(toDate(occurred_at)) AS day, "
                             "event_type, touchpoint, revenue, person_id, session_id FROM parcours.v_events")
    assert Counter(e["event_id"] for e in events) == Counter(set(CURRENT))  # exactly once each
    for e in events:  # the second replay's version
        sent = CURRENT[e["event_id"]]
        assert (e["at"], e["event_type"], e["touchpoint"]) == (
            ms(sent["occurred_at"]), sent["event_type"], sent["touchpoint"]), e
        assert e["revenue"] == (sent["properties"].get("revenue", 0.0) if sent["event_type"] == "purchase" else 0.0)

    sessions = {s["session_id"]: s for s in query(
        data_dir, "SELECT session_id, person_id, toUnixTimestamp64Milli(started_at) AS started, "
                  "toUnixTimestamp64Milli(ended_at) AS ended, event_count, converted, revenue FROM parcours.v_sessions")}
    by_session: dict[str, list[int]] = defaultdict(list)
    for e in events:
        by_session[e["session_id"]].append(e["at"])
    assert set(by_session) == set(sessions)  # no event outside a live session, no session without events
    for session_id, times in by_session.items():
        times.sort()
        row = sessions[session_id]
        assert (row["event_count"], row["started"], row["ended"]) == (len(times), times[0], times[-1]), row
        assert all(b - a < GAP_MS for a, b in zip(times, times[1:], strict=False)), row  # one run of the gap rule
    by_person: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for row in sessions.values():
        by_person[row["person_id"]].append((row["started"], row["ended"]))
    for spans in by_person.values():  # maximal runs: sessions of a person are a gap apart
        spans.sort()
        assert all(b[0] - a[1] >= GAP_MS for a, b in zip(spans, spans[1:], strict=False)), spans

    purchases = {e["event_id"] for e in events if e["event_type"] == "purchase"}
    conversions = query(data_dir, "SELECT conversion_id, revenue FROM parcours.v_conversions")
    assert sorted(c["conversion_id"] for c in conversions) == sorted(purchases) == ["a3", "a4", "b2"]
    assert {c["conversion_id"]: c["revenue"] for c in conversions} == {"a3": 80.0, "a4": 120.0, "b2": 50.0}
    credits = query(data_dir, "SELECT conversion_id, model, sum(credit) AS credit, "
                              "groupArray(touchpoint) AS touchpoints FROM parcours.v_attribution "
                              "GROUP BY conversion_id, model")
    assert {(c["conversion_id"], c["model"]) for c in credits} == {
        (p, m) for p in purchases for m in ("first_touch", "last_touch", "linear", "time_decay",
                                            "position_based", "markov")}
    assert all(abs(c["credit"] - 1) < 1e-9 for c in credits), credits
    b2 = {c["model"]: c["touchpoints"] for c in credits if c["conversion_id"] == "b2"}
    assert b2["linear"] == ["facebook_ads"]  # the corrected touch only, not the stale google_ads

    kpi = query(data_dir, "SELECT toString(day) AS day, touchpoint, sum(events) AS events, "
                          "sum(conversions) AS conversions, sum(revenue) AS revenue FROM parcours.v_kpi_daily "
                          "GROUP BY day, touchpoint HAVING events > 0")
    expected: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for e in events:
        counts = expected[(e["day"], e["touchpoint"])]
        counts[0] += 1
        if e["event_type"] == "purchase":
            counts[1] += 1
            counts[2] += e["revenue"]
    assert {(k["day"], k["touchpoint"]): [k["events"], k["conversions"], k["revenue"]] for k in kpi} == expected


def test_a_resent_event_id_is_one_event_in_its_latest_version(resent: Path) -> None:
    assert_consistent(resent)
    # the re-cut sessions: a4 on a day of its own, a6 a month later but still next to a7
    rows = query(resent, "SELECT toString(started_at) AS started, event_count, converted, revenue "
                         "FROM parcours.v_sessions ORDER BY started_at, event_count")
    assert [(r["started"][:16], r["event_count"], r["converted"], r["revenue"]) for r in rows] == [
        ("2026-10-04 23:55", 2, 1, 50.0), ("2026-10-05 10:00", 3, 1, 80.0), ("2026-10-06 09:00", 1, 1, 120.0),
        ("2026-10-07 09:00", 1, 0, 0.0), ("2026-11-01 00:00", 2, 0, 0.0)]
    # writes as written: the superseded rows stay in the table (and in v_event_writes) until erased
    (writes,) = query(resent, "SELECT uniqExact(event_id, toDate(occurred_at), event_type) AS keys "
                              "FROM parcours.v_event_writes")
    assert writes["keys"] == len(CURRENT) + 4


def test_resessionize_all_gives_the_same(resent: Path) -> None:
    sessions = "SELECT session_id, event_count FROM parcours.v_sessions ORDER BY session_id"
    before = query(resent, sessions)
    done = run_cli(["resessionize", "--all"], resent, env={"PARCOURS_SESSION_GAP": "30m"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert query(resent, sessions) == before
    assert_consistent(resent)
