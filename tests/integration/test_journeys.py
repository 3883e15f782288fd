"""Journey analytics (0006_journeys, 0007_kpi_rollups) against the real ClickHouse engine
(chDB): the hand-made fact rows of journeys_data.py, and every view's numbers compared with
an independent plain-Python computation on the same rows (the dataset's docstring lists the
cases it exercises).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from jobs import report
from pipeline.sink import access
from pipeline.sink.migrations import MIGRATIONS_DIR, split_statements
from pipeline.taxonomy import taxonomy
from tests.integration.journeys_data import (
    DAY_MS,
    EVENTS,
    conversion_times,
    events,
    insert_events,
    is_conversion,
    journeys,
    lookback_ms,
    ms,
    pairs,
    phase_of,
    ratings,
    rows,
    session_rows,
    unique_events,
)

pytestmark = pytest.mark.integration


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
    converting = {e["session_id"] for e in events() if is_conversion(e)}
    care = taxonomy().after_sales_stages

    def unconverted(evs: list[dict[str, Any]]) -> bool:
        last, bought = evs[-1], any(is_conversion(e) for e in evs)
        return not is_conversion(last) and not (bought and (last["stage"] in care or last["session_id"] in converting))

    ends = Counter((evs[-1]["touchpoint"], evs[-1]["channel"], evs[-1]["stage"])
                   for evs in journeys().values() if unconverted(evs))
    got = rows(loaded, "SELECT * FROM parcours.v_dropoffs")
    total = sum(ends.values())
    assert {r[:3]: r[3] for r in got} == dict(ends)
    for r in got:
        assert r[4] == pytest.approx(ends[r[:3]] / total)
    # pC ends with its purchase; pA (a survey after its repeat purchase) and pE, pH (a survey
    # in the purchase's session) bought: care after buying is no broken journey
    assert total == len(journeys()) - 4
    assert ends[("nps_survey", "email", "loyalty")] == 1  # pB, who never bought


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
        responses_csat, csat_avg, responses_nps, got_p, got_d, nps, satisfied, csat_pct = got[key]
        assert satisfied == sum(c >= 4 for c in csats)
        assert csat_pct == (pytest.approx(100 * satisfied / len(csats)) if csats else None)
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
        if any(c <= ms(e["occurred_at"]) for c in times[e["person_id"]]):  # a customer's answer
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
    # the hotline: only pA's two answers after buying count (not prospects pB, pE, pF), both
    # dissatisfied and no purchase after them: nobody on the satisfied side
    assert [r[1:] for r in got if r[0] == "hotline"] == [(2, None, 0.0, None)]


def test_the_report_ranks_moments_with_enough_answers_on_both_sides_first(loaded: Any) -> None:
    """One dissatisfied customer who came back is not a finding: 5 answers a side rank first."""
    view = ("(SELECT * FROM values('touchpoint String, responses UInt64, repurchase_rate_satisfied Nullable(Float64), "
            "repurchase_rate_dissatisfied Nullable(Float64), separation Nullable(Float64), satisfied_responses UInt64, "
            "dissatisfied_responses UInt64', ('tiny', 2, 1.0, 0.0, 1.0, 1, 1), ('solid', 60, 0.7, 0.3, 0.4, 40, 20), "
            "('lopsided', 30, 0.9, 0.1, 0.8, 26, 4), ('fair', 12, 0.6, 0.4, 0.2, 6, 6)))")
    query = (Path(report.__file__).parent / "sql" / "report" / "moments.sql").read_text()
    ranked = rows(loaded, query.replace("parcours.v_moments_of_truth", view))
    assert [r[0] for r in ranked] == ["solid", "fair", "tiny", "lopsided"]


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
            "conversion_rate": len({e["session_id"] for e in conv}) / sessions,
            "revenue": sum(e["revenue"] for e in conv),
            "csat_avg": sum(csats) / len(csats) if csats else None,
            "nps": (100 * (sum(n >= 9 for n in npss) - sum(n <= 6 for n in npss)) / len(npss)
                    if npss else None),
            "bounce_rate": bounced[entry] / entered[entry] if entered[entry] else None,
            "visitors": len({e["anchor_id"] for e in evs}),
            "converting_sessions": len({e["session_id"] for e in conv}),
            "csat_pct": 100 * sum(c >= 4 for c in csats) / len(csats) if csats else None,
        }
    return out


KPI_COLUMNS = ["day", "touchpoint", "channel", "stage", "events", "sessions", "conversions",
               "conversion_rate", "revenue", "csat_avg", "nps", "bounce_rate", "visitors", "converting_sessions",
               "csat_pct"]


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
    for name in ("0006_journeys.sql", "0007_kpi_rollups.sql", "0016_kpi_conversion_rate.sql", "0017_csat_share.sql",
                 "0020_conversion_phases.sql", "0021_journey_ends.sql", "0022_moments_of_truth.sql",
                 "0025_kpi_current_sessions.sql"):  # in order: they restate 0006's views and 0007's rollup
        for statement in split_statements((MIGRATIONS_DIR / name).read_text()):
            loaded.command(statement)
    access.secure_views(loaded)  # as `migrate` does after its statements (other tests read the views)
    assert kpis(loaded) == before
    assert dict(rows(loaded, "SELECT event_id, phase FROM parcours.v_event_phases")) == phase_of()
