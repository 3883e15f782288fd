"""Journey analytics (0006_journeys, 0007_kpi_rollups, jobs/funnel) against the real ClickHouse
engine (chDB): hand-made fact rows in parcours.events / sessions / person_merges, and every
view's numbers compared with an independent plain-Python computation on the same rows.

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
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from jobs.funnel import Step, funnel, parse_steps, parse_window, render
from pipeline import SCHEMAS
from pipeline.errors import Terminal
from pipeline.sink.migrations import MIGRATIONS_DIR, split_statements
from pipeline.taxonomy import taxonomy
from tests.conftest import empty, run_cli

pytestmark = pytest.mark.integration

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


@pytest.fixture(scope="module")
def loaded(clickhouse: Any) -> Iterator[Any]:
    truncate_all(clickhouse)  # the rollup also holds states from other modules' inserts
    insert_events(clickhouse, EVENTS)
    clickhouse.insert("parcours.sessions", [list(r) for r in session_rows()],
                      column_names=SESSION_COLUMNS)
    clickhouse.insert("parcours.person_merges", [list(r) for r in PERSON_MERGES],
                      column_names=PERSON_MERGE_COLUMNS)
    yield clickhouse
    truncate_all(clickhouse)


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
    return {p: sorted(v, key=lambda e: (e["occurred_at"], e["event_id"]))
            for p, v in by_person.items()}


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


# ---- views -----------------------------------------------------------------------------------


def test_dataset_is_what_the_views_see(loaded: Any) -> None:
    want = events()
    got = rows(loaded, "SELECT event_id, person_id FROM parcours.v_events ORDER BY event_id")
    assert got == sorted((e["event_id"], e["person_id"]) for e in want)
    assert len(got) == 30 and ("e03", "pE") in got


def test_event_phases(loaded: Any) -> None:
    got = dict(rows(loaded, "SELECT event_id, phase FROM parcours.v_event_phases"))
    want = phase_of()
    assert got == want
    # the dataset covers every branch: during, before a (repeat) purchase, after, and the
    # pre-purchase default of persons who never bought or bought beyond the lookback
    assert want["a05"] == want["e05"] == "during"
    assert want["a01"] == want["a07"] == "before"
    assert want["a09"] == want["a10"] == "after"
    assert want["b01"] == want["c01"] == "before"
    columns = loaded.query("SELECT * FROM parcours.v_event_phases LIMIT 1").column_names
    assert list(columns) == ["event_id", "person_id", "occurred_at", "touchpoint", "channel",
                             "stage", "phase"]


def test_transitions(loaded: Any) -> None:
    want_n: Counter[tuple[Any, ...]] = Counter()
    want_p: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    for a, b, _ in pairs():
        same_session = int(a["session_id"] == b["session_id"])
        key = (a["touchpoint"], a["channel"], b["touchpoint"], b["channel"], same_session)
        want_n[key] += 1
        want_p[key].add(a["person_id"])
    got = rows(loaded, "SELECT * FROM parcours.v_transitions")
    assert {r[:5]: (r[5], r[6]) for r in got} == {k: (n, len(want_p[k])) for k, n in want_n.items()}
    assert sum(r[5] for r in got) == len(events()) - len(journeys())
    assert [r[5] for r in got] == sorted((r[5] for r in got), reverse=True)
    assert ("homepage", "web", "checkout", "web", 1) in want_n  # pC, inside a visit


def test_dropoffs(loaded: Any) -> None:
    ends = Counter((evs[-1]["touchpoint"], evs[-1]["channel"], evs[-1]["stage"])
                   for evs in journeys().values() if not is_conversion(evs[-1]))
    got = rows(loaded, "SELECT * FROM parcours.v_dropoffs")
    total = sum(ends.values())
    assert {r[:3]: r[3] for r in got} == dict(ends)
    for r in got:
        assert r[4] == pytest.approx(ends[r[:3]] / total)
    assert total == len(journeys()) - 1  # pC ends with its purchase
    assert ends[("nps_survey", "email", "loyalty")] == 2  # pA after its repeat purchase, and pB


def test_channel_switches(loaded: Any) -> None:
    times = conversion_times()
    switches: dict[tuple[str, str], list[tuple[str, bool, str]]] = defaultdict(list)
    for a, b, after in pairs():
        if a["channel"] != b["channel"] and ms(b["occurred_at"]) - ms(a["occurred_at"]) < DAY_MS:
            t = ms(b["occurred_at"])
            converted = any(t <= c <= t + 7 * DAY_MS for c in times[a["person_id"]])
            next_tp = after["touchpoint"] if after else ""
            switches[(a["channel"], b["channel"])].append((a["person_id"], converted, next_tp))
    got = {(r[0], r[1]): r[2:] for r in rows(loaded, "SELECT * FROM parcours.v_channel_switches")}
    assert set(got) == set(switches)
    for key, found in switches.items():
        n, persons, converted, rate, top = got[key]
        counts = Counter(tp for _, _, tp in found if tp)
        best = min(counts, key=lambda tp: (-counts[tp], tp)) if counts else ""
        assert (n, persons, converted, top) == (len(found), len({p for p, _, _ in found}),
                                                 sum(c for _, c, _ in found), best), key
        assert rate == pytest.approx(converted / n)
    # web -> hotline within 24 h: pA (buys the next day) and pB (never buys), pF's is 24 h apart
    assert got[("web", "call_center")][:3] == (2, 2, 1)
    assert ("store", "call_center") not in got


def test_satisfaction_daily(loaded: Any) -> None:
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for r in ratings():
        day = r["event"]["occurred_at"].date()
        key = (day, r["touchpoint"], r["channel"], r["stage"], r["phase"])
        groups[key].append(r["event"])
    got = {r[:5]: r[5:] for r in rows(loaded, "SELECT * FROM parcours.v_satisfaction_daily")}
    assert set(got) == set(groups)
    for key, answers in groups.items():
        csats = [e["csat"] for e in answers if e["csat"] is not None]
        npss = [e["nps"] for e in answers if e["nps"] is not None]
        promoters, detractors = sum(n >= 9 for n in npss), sum(n <= 6 for n in npss)
        responses_csat, csat_avg, responses_nps, got_p, got_d, nps = got[key]
        assert (responses_csat, responses_nps) == (len(csats), len(npss))
        assert (got_p, got_d) == (promoters, detractors)
        assert csat_avg == (pytest.approx(sum(csats) / len(csats)) if csats else None)
        assert nps == (pytest.approx(100 * (promoters - detractors) / len(npss)) if npss else None)
    # a rating of another touchpoint counts for the rated interaction's channel, stage, phase
    assert (date(2026, 11, 3), "checkout", "web", "purchase", "during") in got
    assert (date(2026, 11, 28), "hotline", "call_center", "service", "after") in got
    # a touchpoint the person never visited keeps the answer's own attributes
    assert (date(2026, 11, 7), "delivery_home", "survey", "loyalty", "during") in got


def test_moments_of_truth(loaded: Any) -> None:
    times = conversion_times()
    per_tp: dict[str, list[tuple[bool, bool, bool]]] = defaultdict(list)
    for r in ratings():
        e = r["event"]
        csat, nps = e["csat"], e["nps"]
        satisfied = (csat is not None and csat >= 4) or (nps is not None and nps >= 9)
        dissatisfied = (csat is not None and csat <= 2) or (nps is not None and nps <= 6)
        bought = any(c > ms(e["occurred_at"]) for c in times[e["person_id"]])
        per_tp[r["touchpoint"]].append((satisfied, dissatisfied, bought))

    def rate(answers: list[tuple[bool, bool, bool]], side: int) -> float | None:
        chosen = [a for a in answers if a[side]]
        return sum(a[2] for a in chosen) / len(chosen) if chosen else None

    got = rows(loaded, "SELECT touchpoint, responses, repurchase_rate_satisfied, "
                       "repurchase_rate_dissatisfied, separation FROM parcours.v_moments_of_truth")
    assert {r[0] for r in got} == set(per_tp)
    for tp, responses, sat, dis, separation in got:
        want_sat, want_dis = rate(per_tp[tp], 0), rate(per_tp[tp], 1)
        assert responses == len(per_tp[tp])
        assert sat == (None if want_sat is None else pytest.approx(want_sat))
        assert dis == (None if want_dis is None else pytest.approx(want_dis))
        want_sep = None if want_sat is None or want_dis is None else want_sat - want_dis
        assert separation == (None if want_sep is None else pytest.approx(want_sep))
    separations = [r[4] for r in got if r[4] is not None]
    assert separations == sorted(separations, reverse=True)
    assert got[0][0] == "checkout" and got[0][4] == pytest.approx(1.0)  # pA bought again, pH not
    assert dict((r[0], r[4]) for r in got)["hotline"] == pytest.approx(-0.2)


def test_touchpoint_pareto(loaded: Any) -> None:
    lookback, influenced = lookback_ms(), defaultdict[str, float](float)
    for evs in journeys().values():
        for c in filter(is_conversion, evs):
            t = ms(c["occurred_at"])
            touched = {e["touchpoint"] for e in evs
                       if not is_conversion(e) and t - lookback <= ms(e["occurred_at"]) <= t}
            for tp in touched or {c["touchpoint"]}:
                influenced[tp] += c["revenue"]
    order = sorted(influenced, key=lambda tp: (-influenced[tp], tp))
    total = sum(influenced.values())
    got = rows(loaded, "SELECT * FROM parcours.v_touchpoint_pareto")
    assert [r[0] for r in got] == order
    running = 0.0
    for rank, (tp, revenue, share, cumulative, got_rank) in enumerate(got, 1):
        running += influenced[tp]
        assert revenue == pytest.approx(influenced[tp])
        assert share == pytest.approx(influenced[tp] / total)
        assert cumulative == pytest.approx(running / total)
        assert got_rank == rank
    assert got[-1][3] == pytest.approx(1.0)
    assert influenced["hotline"] == pytest.approx(350.0)  # pA twice, pE once
    assert influenced["lyon_store"] == pytest.approx(30.0)  # no earlier touch: the purchase


def kpi_oracle() -> dict[tuple[Any, ...], dict[str, Any]]:
    """v_kpi_daily from the raw rows: ids as written (anchors, raw sessions), bounce rate from
    the latest session versions by start day, entry touchpoint and first channel."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for e in unique_events():
        groups[(e["occurred_at"].date(), e["touchpoint"], e["channel"], e["stage"])].append(e)
    latest: dict[str, tuple[Any, ...]] = {}
    for s in session_rows():
        if s[0] not in latest or s[10] > latest[s[0]][10]:
            latest[s[0]] = s
    entered: Counter[tuple[Any, ...]] = Counter()
    bounced: Counter[tuple[Any, ...]] = Counter()
    for s in latest.values():
        key = (s[2].date(), s[6], s[5][0])
        entered[key] += 1
        bounced[key] += s[4] == 1
    out = {}
    for key, evs in groups.items():
        conv = [e for e in evs if is_conversion(e)]
        sessions = len({e["session_id"] for e in evs})
        csats = [e["csat"] for e in evs if e["csat"] is not None]
        npss = [e["nps"] for e in evs if e["nps"] is not None]
        entry = key[0], key[1], key[2]
        out[key] = {
            "events": len(evs), "sessions": sessions, "conversions": len(conv),
            "conversion_rate": len(conv) / sessions, "revenue": sum(e["revenue"] for e in conv),
            "csat_avg": sum(csats) / len(csats) if csats else None,
            "nps": (100 * (sum(n >= 9 for n in npss) - sum(n <= 6 for n in npss)) / len(npss)
                    if npss else None),
            "bounce_rate": bounced[entry] / entered[entry] if entered[entry] else None,
            "visitors": len({e["anchor_id"] for e in evs}),
        }
    return out


KPI_COLUMNS = ["day", "touchpoint", "channel", "stage", "events", "sessions", "conversions",
               "conversion_rate", "revenue", "csat_avg", "nps", "bounce_rate", "visitors"]


def kpis(client: Any) -> dict[tuple[Any, ...], dict[str, Any]]:
    result = client.query("SELECT * FROM parcours.v_kpi_daily")
    assert list(result.column_names) == KPI_COLUMNS
    return {tuple(r[:4]): dict(zip(KPI_COLUMNS[4:], r[4:], strict=True))
            for r in result.result_rows}


def assert_kpis_match(got: dict[tuple[Any, ...], dict[str, Any]]) -> None:
    want = kpi_oracle()
    assert set(got) == set(want)
    for key, numbers in want.items():
        for name, value in numbers.items():
            expected = None if value is None else pytest.approx(value)
            assert got[key][name] == expected, (key, name)


def test_kpi_daily(loaded: Any) -> None:
    got = kpis(loaded)
    assert_kpis_match(got)
    homepage = got[(date(2026, 11, 2), "homepage", "web", "consideration")]
    assert homepage["events"] == 2 and homepage["bounce_rate"] == pytest.approx(0.0)
    add_to_cart = got[(date(2026, 11, 2), "product_page", "web", "purchase")]
    assert add_to_cart["revenue"] == 0.0  # a cart value is not revenue
    bounce = got[(date(2026, 11, 4), "homepage", "web", "consideration")]["bounce_rate"]
    assert bounce == pytest.approx(1.0)


def test_kpi_daily_survives_duplicate_batches(loaded: Any) -> None:
    before = kpis(loaded)
    insert_events(loaded, EVENTS)  # a retried sink batch: the very same rows
    later = [{**e, "ingested_at": e["ingested_at"] + timedelta(hours=1)} for e in EVENTS]
    insert_events(loaded, later)  # a re-run replay: the same facts, ingested again
    assert kpis(loaded) == before
    loaded.command("OPTIMIZE TABLE parcours.kpi_daily_state FINAL")  # merged states: same numbers
    assert kpis(loaded) == before
    assert_kpis_match(before)


def test_migrations_run_again_harmlessly(loaded: Any) -> None:
    """A migration interrupted half-way is simply run again: every statement is re-runnable,
    and re-running them keeps the rollup's states and the views' numbers."""
    before = kpis(loaded)
    for name in ("0006_journeys.sql", "0007_kpi_rollups.sql"):
        for statement in split_statements((MIGRATIONS_DIR / name).read_text()):
            loaded.command(statement)
    assert kpis(loaded) == before
    assert dict(rows(loaded, "SELECT event_id, phase FROM parcours.v_event_phases")) == phase_of()


# ---- funnel ----------------------------------------------------------------------------------


def funnel_levels(steps: list[Step], window_ms: int) -> dict[str, tuple[int, str]]:
    """Per person: the longest prefix of the steps done in order within the window (greedy
    earliest match from each possible start), and the channel of the earliest first step."""
    def matches(e: dict[str, Any], step: Step) -> bool:
        return e[step.column] == step.value

    out = {}
    for person, evs in journeys().items():
        best = 0
        for start in (e for e in evs if matches(e, steps[0])):
            level, last = 1, start
            for step in steps[1:]:
                found = next((e for e in evs if ms(last["occurred_at"]) < ms(e["occurred_at"])
                              <= ms(start["occurred_at"]) + window_ms and matches(e, step)), None)
                if found is None:
                    break
                level, last = level + 1, found
            best = max(best, level)
        firsts = [e for e in evs if matches(e, steps[0])]
        out[person] = (best, firsts[0]["channel"] if firsts else "")
    return out


@pytest.mark.parametrize("raw, window", [
    (["page_view", "touchpoint:hotline", "purchase"], "7d"),
    (["page_view", "touchpoint:hotline", "purchase"], "12h"),
    (["touchpoint:homepage", "support_call", "survey_response"], "30d"),
    (["page_view", "touchpoint:it's {s0:String}"], "7d"),  # hostile names are only parameters
])  # fmt: skip
def test_funnel(loaded: Any, raw: list[str], window: str) -> None:
    steps, window_s = parse_steps(raw), parse_window(window)
    levels = funnel_levels(steps, window_s * 1000)
    result = funnel(loaded, steps, window_s, by_channel=True)

    def expected(people: list[int]) -> list[int]:
        return [sum(level >= i for level in people) for i in range(1, len(steps) + 1)]

    reached = expected([level for level, _ in levels.values()])
    assert [c.persons for c in result.overall] == reached
    for i, count in enumerate(result.overall):
        prev = reached[i - 1] if i else None
        assert count.from_previous == (pytest.approx(100 * reached[i] / prev) if prev else None)
        first = reached[0]
        assert count.from_first == (pytest.approx(100 * reached[i] / first) if first else None)
    channels = {ch for level, ch in levels.values() if level}
    assert set(result.by_channel) == channels
    for channel in channels:
        got = [c.persons for c in result.by_channel[channel]]
        assert got == expected([level for level, ch in levels.values() if ch == channel]), channel
    text = render(result)
    assert raw[0] in text and "from first" in text


def test_funnel_numbers_are_the_intended_ones(loaded: Any) -> None:
    steps = parse_steps(["page_view", "touchpoint:hotline", "purchase"])
    week = funnel(loaded, steps, parse_window("7d"))
    assert [c.persons for c in week.overall] == [5, 3, 1]  # pA, pB, pF page views; pA buys
    half_day = funnel(loaded, steps, parse_window("12h"))
    assert [c.persons for c in half_day.overall] == [5, 2, 0]  # pF's hotline is 24 h later


def test_funnel_arguments() -> None:
    with pytest.raises(Terminal, match="at least 2 steps") as raised:
        parse_steps(["purchase"])
    assert "touchpoint:NAME" in raised.value.hint
    with pytest.raises(Terminal):
        parse_steps(["purchase", "touchpoint:"])
    second = parse_steps(["purchase", "touchpoint:hotline"])[1]
    assert second == Step("touchpoint:hotline", "touchpoint", "hotline")
    assert parse_window("7d") == 7 * 86400 and parse_window("90m") == 5400
    assert parse_window("3600") == 3600
    with pytest.raises(Terminal):
        parse_window("soon")


def test_funnel_cli_needs_two_steps(tmp_path: Path) -> None:
    """The error path never opens ClickHouse, so a subprocess costs no second engine here."""
    done = run_cli(["funnel", "purchase"], tmp_path / "parcours", timeout=60)
    assert done.returncode == 2
    assert "at least 2 steps" in done.stderr and "hint:" in done.stderr
