"""Phases relative to each conversion (0020): v_conversion_phases gives every event of the
person its phase around each purchase, within lookback_days either side; v_event_phases keeps
after-sales care after the purchase it follows, even with another purchase ahead."""

from __future__ import annotations

from typing import Any

from pipeline.taxonomy import taxonomy
from tests.conftest import empty

# (event_id, day, hour, session, event_type, channel, stage): one customer, two orders
JOURNEY = [
    ("v1", 1, 9, "s1", "page_view", "web", "consideration"),
    ("v2", 2, 10, "s2", "product_view", "web", "consideration"),
    ("p1", 2, 10, "s2", "purchase", "web", "purchase"),
    ("d1", 5, 14, "s3", "delivery_completed", "delivery", "purchase"),
    ("c1", 7, 9, "s4", "support_call", "call_center", "service"),  # complaint about order 1
    ("n1", 20, 9, "s5", "email_open", "email", "awareness"),
    ("p2", 26, 11, "s6", "purchase", "store", "purchase"),
    ("i2", 27, 8, "s7", "invoice_sent", "billing", "service"),
    ("late", 80, 8, "s8", "page_view", "web", "consideration"),  # beyond the lookback of both
]


def _load(client: Any) -> None:
    empty(client)
    values = ", ".join(
        f"('{e}', toDateTime64('2026-10-01 00:00:00', 3, 'UTC') + INTERVAL {day * 24 + hour} HOUR, "
        f"'pX', 'pX', '{s}', '{kind}', '{channel}', '{kind}', '{stage}')"
        for e, day, hour, s, kind, channel, stage in JOURNEY)
    client.command("INSERT INTO parcours.events (event_id, occurred_at, person_id, anchor_id, session_id, "
                   f"event_type, channel, touchpoint, stage) VALUES {values}")


def test_phases_around_each_conversion(clickhouse: Any) -> None:
    _load(clickhouse)
    assert {"service", "loyalty"} <= taxonomy().after_sales_stages
    got = {(c, e): (phase, days) for c, e, phase, days in clickhouse.query(
        "SELECT conversion_id, event_id, phase, round(days_from_conversion, 3) "
        "FROM parcours.v_conversion_phases").result_rows}
    lookback_days = clickhouse.query("SELECT lookback_days FROM parcours.attribution_settings").result_rows[0][0]
    when = {e: day * 24 + hour for e, day, hour, *_ in JOURNEY}
    session = {e: s for e, _d, _h, s, *_ in JOURNEY}
    want = {}
    for conversion in ("p1", "p2"):  # the oracle, read off the rows
        for e in when:
            hours = when[e] - when[conversion]
            if session[e] == session[conversion]:
                want[conversion, e] = ("during", round(hours / 24, 3))
            elif abs(hours) <= lookback_days * 24:
                want[conversion, e] = ("before" if hours < 0 else "after", round(hours / 24, 3))
    assert got == want
    assert got["p1", "c1"][0] == "after" and got["p2", "c1"][0] == "before"  # between the two orders
    assert ("p1", "late") not in got and ("p2", "late") not in got


def test_after_sales_care_stays_after_its_purchase(clickhouse: Any) -> None:
    _load(clickhouse)
    phases = dict(clickhouse.query("SELECT event_id, phase FROM parcours.v_event_phases").result_rows)
    assert phases == {"v1": "before", "v2": "during", "p1": "during",
                      "d1": "before",  # fulfilment: the run-up to order 2 by time
                      "c1": "after",  # service after order 1, though order 2 lies ahead
                      "n1": "before", "p2": "during", "i2": "after", "late": "after"}
