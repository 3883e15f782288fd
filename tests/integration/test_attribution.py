"""Attribution against embedded chDB: hand-made events -> parcours.v_attribution equals an
independent computation of every model on the same rows (polars for the touches and the rule
models, plain Python value iteration for the Markov chain).

The dataset exercises: a conversion with 6 touches (one exactly at the lookback boundary, two
at the same instant), a second conversion of the same person whose window overlaps the first
(the first conversion is not one of its touches), conversions with 1, 2 and 3 touches (one
touch at the conversion's own instant), touches outside the lookback, a conversion whose only
earlier event is outside it and one with no earlier event at all (both credit themselves), a
re-delivered event (counted once), trailing events after a last conversion and a person who
never converts (non-converting Markov paths), and a channel (chat) seen only on a
non-converting path but leading into a converting channel.
"""

from __future__ import annotations

import tomllib
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from jobs.attribution import MarkovResult, run_markov
from pipeline import SCHEMAS
from tests.conftest import empty

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
SETTINGS = tomllib.loads((SCHEMAS / "attribution.toml").read_text())
CONVERSION_TYPES = {"purchase"}
MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position_based", "markov")


def ev(event_id: str, day: float, person: str, event_type: str, channel: str, touchpoint: str,
       revenue: float = 0.0, late_min: int = 1) -> dict[str, Any]:
    at = T0 + timedelta(days=day)
    return {
        "event_id": event_id, "occurred_at": at, "person_id": person, "anchor_id": person,
        "session_id": f"s-{person}-{int(day)}", "event_type": event_type, "channel": channel,
        "touchpoint": touchpoint, "stage": "x", "revenue": revenue, "currency": "EUR",
        "order_id": "", "csat": None, "nps": None, "identifiers": {"user_id": person},
        "properties": "{}", "context": "{}", "ingested_at": at + timedelta(minutes=late_min),
    }  # fmt: skip


EVENTS = [
    ev("p1_old", -45, "p1", "store_visit", "store", "paris_store"),       # outside any window
    ev("p1_b", -30, "p1", "email_open", "email", "newsletter"),           # c1 - lookback exactly
    ev("p1_c", -10, "p1", "ad_click", "ads", "google_ads"),
    ev("p1_d", -5, "p1", "page_view", "web", "homepage"),
    ev("p1_e", -1, "p1", "page_view", "web", "product_page"),
    ev("p1_g", -0.1, "p1", "app_open", "app", "app_home"),                # same instant as p1_f:
    ev("p1_f", -0.1, "p1", "social_click", "social", "instagram"),        # event id orders them
    ev("c1", 0, "p1", "purchase", "web", "checkout", 100.0),
    ev("p1_h", 1, "p1", "email_open", "email", "newsletter"),
    ev("p1_i", 2.5, "p1", "page_view", "web", "homepage"),
    ev("c1b", 3, "p1", "purchase", "store", "paris_store", 50.0),         # T: p1_c..p1_i, not c1
    ev("p2_a", 9, "p2", "ad_click", "ads", "google_ads"),
    ev("c2", 10, "p2", "purchase", "web", "checkout", 30.0),              # n = 1
    ev("p3_a", 7, "p3", "social_click", "social", "instagram"),
    ev("p3_b", 8, "p3", "page_view", "web", "homepage"),
    ev("p3_b", 8, "p3", "page_view", "web", "homepage", late_min=90),     # re-delivered: once
    ev("c3", 8.5, "p3", "purchase", "app", "app_checkout", 20.0),         # n = 2
    ev("p4_old", -26, "p4", "page_view", "web", "homepage"),              # 31 days before c4
    ev("p4_a", 1, "p4", "email_open", "email", "newsletter"),
    ev("p4_b", 3, "p4", "page_view", "web", "homepage"),
    ev("p4_c", 5, "p4", "store_visit", "store", "lyon_store"),            # at c4's instant
    ev("c4", 5, "p4", "purchase", "store", "lyon_store", 80.0),           # n = 3
    ev("p5_old", -40, "p5", "ad_click", "ads", "google_ads"),
    ev("c5", 0, "p5", "purchase", "store", "paris_store", 40.0),          # T = {c5}
    ev("p5_after", 1, "p5", "page_view", "web", "homepage"),              # trailing: not converting
    ev("p6_a", -50, "p6", "email_open", "email", "newsletter"),           # before p6's window
    ev("p6_b", 2, "p6", "social_click", "social", "instagram"),
    ev("p6_c", 3, "p6", "chat_message", "chat", "web_chat"),
    ev("p6_d", 4, "p6", "page_view", "web", "homepage"),
    ev("c7", 6, "p7", "purchase", "kiosk", "kiosk_lyon", 10.0),           # nothing before: T = {c7}
]  # fmt: skip
COLUMNS = list(EVENTS[0])


@pytest.fixture(scope="module")
def loaded(clickhouse: Any) -> Any:
    empty(clickhouse)
    rows = [[e[c] for c in COLUMNS] for e in EVENTS]
    clickhouse.insert("parcours.events", rows, column_names=COLUMNS)
    result = run_markov(clickhouse)
    yield clickhouse, result
    empty(clickhouse)
    clickhouse.command("TRUNCATE TABLE parcours.attribution_markov")


@pytest.fixture(scope="module")
def attribution(loaded: Any) -> pl.DataFrame:
    client, _ = loaded
    frame = pl.from_arrow(client.query_arrow("SELECT * FROM parcours.v_attribution"))
    assert isinstance(frame, pl.DataFrame)
    return frame


# ---- the reference: the same rows, computed here -------------------------------------------


def events() -> pl.DataFrame:
    frame = pl.DataFrame(EVENTS).sort("ingested_at").unique("event_id", keep="last")
    return frame.with_columns(is_conversion=pl.col("event_type").is_in(list(CONVERSION_TYPES)))


def reference_touches() -> pl.DataFrame:
    """T(c) per conversion with position and n (the conversion itself when empty)."""
    ev_ = events()
    conversions = ev_.filter("is_conversion").select(
        "person_id", conversion_id="event_id", conversion_at="occurred_at", conv_revenue="revenue",
        conv_channel="channel", conv_touchpoint="touchpoint")
    lookback = timedelta(days=SETTINGS["lookback_days"])
    prior = conversions.join(ev_.filter(~pl.col("is_conversion")), on="person_id").filter(
        pl.col("occurred_at") <= pl.col("conversion_at"),
        pl.col("occurred_at") >= pl.col("conversion_at") - lookback)
    alone = conversions.join(prior.select("conversion_id").unique(), on="conversion_id", how="anti")
    itself = alone.with_columns(event_id="conversion_id", occurred_at="conversion_at",
                                channel="conv_channel", touchpoint="conv_touchpoint")
    cols = ["conversion_id", "person_id", "conversion_at", "conv_revenue", "event_id",
            "occurred_at", "channel", "touchpoint"]
    touches = pl.concat([prior.select(cols), itself.select(cols)]).sort(
        "conversion_id", "occurred_at", "event_id")
    age_ms = (pl.col("conversion_at") - pl.col("occurred_at")).dt.total_milliseconds()
    return touches.with_columns(
        position=pl.int_range(1, pl.len() + 1).over("conversion_id"),
        n=pl.len().over("conversion_id"),
        age_days=age_ms / 86_400_000)


def rule_credit(model: str) -> pl.Expr:
    pos, n = pl.col("position"), pl.col("n")
    first, last = SETTINGS["first_share"], SETTINGS["last_share"]
    if model == "first_touch":
        return (pos == 1).cast(pl.Float64)
    if model == "last_touch":
        return (pos == n).cast(pl.Float64)
    if model == "linear":
        return 1.0 / n
    if model == "time_decay":
        weight = pl.lit(2.0).pow(-pl.col("age_days") / SETTINGS["half_life_days"])
        return weight / weight.sum().over("conversion_id")
    return (pl.when(n == 1).then(1.0).when(n == 2).then(0.5).when(pos == 1).then(first)
            .when(pos == n).then(last).otherwise((1.0 - first - last) / (n - 2)))


def paths() -> list[tuple[list[str], bool]]:
    touches = reference_touches().sort("conversion_id", "position")
    by_conversion = touches.group_by("conversion_id", maintain_order=True)
    out = [(list(g["channel"]), True) for _, g in by_conversion]
    by_person = events().sort("occurred_at", "event_id").group_by("person_id", maintain_order=True)
    for _, person in by_person:
        conv_at = person.filter("is_conversion")["occurred_at"].max()
        tail = person if conv_at is None else person.filter(pl.col("occurred_at") > conv_at)
        since = pl.col("occurred_at").max() - timedelta(days=SETTINGS["lookback_days"])
        if tail.height:
            out.append((list(tail.filter(pl.col("occurred_at") >= since)["channel"]), False))
    return out


def p_conversion(chain: dict[str, dict[str, float]], removed: str | None) -> float:
    """Value iteration: v(s) = sum p(s, d) v(d), v(conversion) = 1, v(null) = v(removed) = 0."""
    value: dict[str, float] = defaultdict(float, {"conversion": 1.0})
    for _ in range(100_000):
        new = defaultdict(float, {"conversion": 1.0})
        for s, row in chain.items():
            if s != removed:
                new[s] = sum(p * (0.0 if d == removed else value[d]) for d, p in row.items())
        if max(abs(new[s] - value[s]) for s in chain) < 1e-15:
            break
        value = new
    return new["start"]


def reference_effects() -> dict[str, float]:
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for path, converted in paths():
        states = ["start", *path, "conversion" if converted else "null"]
        for a, b in zip(states, states[1:], strict=False):
            counts[a][b] += 1
    chain = {s: {d: n / sum(row.values()) for d, n in row.items()} for s, row in counts.items()}
    base = p_conversion(chain, None)
    on_converting = {c for path, converted in paths() if converted for c in path}
    channels = {c for path, _ in paths() for c in path}
    return {c: (1 - p_conversion(chain, c) / base) if c in on_converting else 0.0 for c in channels}


def reference_credits(model: str) -> dict[tuple[str, str, str], float]:
    touches = reference_touches()
    if model == "markov":
        effects = reference_effects()
        per_channel = touches.group_by("conversion_id", "channel").agg(k=pl.len()).with_columns(
            e=pl.col("channel").map_elements(effects.__getitem__, return_dtype=pl.Float64))
        share = pl.col("e") / pl.col("e").sum().over("conversion_id")
        per_channel = per_channel.with_columns(share=share)
        touches = touches.join(per_channel, on=["conversion_id", "channel"])
        credit = pl.col("share") / pl.col("k")
    else:
        credit = rule_credit(model)
    grouped = (touches.with_columns(credit=credit)
               .group_by("conversion_id", "touchpoint", "channel").agg(pl.col("credit").sum()))
    return {(c, t, ch): v for c, t, ch, v in grouped.iter_rows() if v != 0}


# ---- tests ----------------------------------------------------------------------------------


def test_the_touches_are_the_intended_ones(loaded: Any) -> None:
    client, _ = loaded
    rows = client.query("SELECT conversion_id, arrayMap(x -> x.2, arraySort(groupArray((position, "
                        "event_id)))), any(touches) FROM parcours.v_attribution_touches "
                        "GROUP BY conversion_id").result_rows
    got = {c: (list(ids), n) for c, ids, n in rows}
    assert got == {
        "c1": (["p1_b", "p1_c", "p1_d", "p1_e", "p1_f", "p1_g"], 6),
        "c1b": (["p1_c", "p1_d", "p1_e", "p1_f", "p1_g", "p1_h", "p1_i"], 7),
        "c2": (["p2_a"], 1), "c3": (["p3_a", "p3_b"], 2), "c4": (["p4_a", "p4_b", "p4_c"], 3),
        "c5": (["c5"], 1), "c7": (["c7"], 1),
    }
    ref = reference_touches().group_by("conversion_id").agg(pl.col("event_id").sort_by("position"))
    assert {c: list(ids) for c, ids in ref.iter_rows()} == {c: ids for c, (ids, _) in got.items()}


@pytest.mark.parametrize("model", MODELS)
def test_model_matches_the_reference(attribution: pl.DataFrame, model: str) -> None:
    rows = attribution.filter(pl.col("model") == model)
    got = {(c, t, ch): v for c, t, ch, v in
           rows.select("conversion_id", "touchpoint", "channel", "credit").iter_rows() if v != 0}
    want = reference_credits(model)
    assert set(got) == set(want), (model, set(got) ^ set(want))
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-9), (model, key)


def test_credits_sum_to_one_and_revenue_is_shared(attribution: pl.DataFrame) -> None:
    revenue = {e["event_id"]: e["revenue"] for e in EVENTS if e["event_type"] in CONVERSION_TYPES}
    sums = attribution.group_by("conversion_id", "model").agg(
        pl.col("credit").sum(), pl.col("revenue_credit").sum(), pl.col("person_id").n_unique())
    assert sums.height == len(revenue) * len(MODELS)
    for conversion, model, credit, revenue_credit, persons in sums.iter_rows():
        assert credit == pytest.approx(1.0, abs=1e-6), (conversion, model)
        assert revenue_credit == pytest.approx(revenue[conversion], abs=1e-6), (conversion, model)
        assert persons == 1


def test_position_based_edge_cases(attribution: pl.DataFrame) -> None:
    rows = attribution.filter(pl.col("model") == "position_based")
    credit = {(c, ch): v for c, ch, v in
              rows.select("conversion_id", "channel", "credit").iter_rows()}
    first, last = SETTINGS["first_share"], SETTINGS["last_share"]
    assert credit[("c2", "ads")] == pytest.approx(1.0)                       # n = 1
    assert (credit[("c3", "social")], credit[("c3", "web")]) == pytest.approx((0.5, 0.5))  # n = 2
    assert (credit[("c4", "email")], credit[("c4", "web")], credit[("c4", "store")]) == \
        pytest.approx((first, 1 - first - last, last))                         # n = 3


def test_markov_effects(loaded: Any) -> None:
    _, result = loaded
    assert isinstance(result, MarkovResult)
    want = reference_effects()
    assert set(result.effects) == set(want)
    for channel, effect in want.items():
        assert result.effects[channel] == pytest.approx(effect, abs=1e-9), channel
    assert result.effects["chat"] == 0.0  # only on a non-converting path
    assert all(0.0 < result.effects[c] <= 1.0 for c in ("web", "store", "ads", "kiosk"))
    assert (result.converting_paths, result.non_converting_paths) == (7, 2)


def test_rerun_replaces_markov_rows(loaded: Any) -> None:
    client, first = loaded
    again = run_markov(client)
    count = client.query("SELECT count() FROM parcours.attribution_markov").result_rows[0][0]
    assert again.rows == first.rows == count
