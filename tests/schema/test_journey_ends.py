"""Journey ends (0021): a purchase sorts after what happened in its millisecond, and a buyer's
care after buying (invoice, survey) is no unconverted journey; a buyer who comes back to
browse and leaves is."""

from __future__ import annotations

from typing import Any

from tests.conftest import empty

# (event_id, person, minute, session, event_type, channel, stage)
EVENTS = [
    ("a-buy", "pT", 10, "t1", "purchase", "web", "purchase"),  # its id sorts before the checkout's
    ("b-checkout", "pT", 10, "t1", "checkout", "web", "purchase"),
    ("pI-buy", "pI", 5, "i1", "purchase", "web", "purchase"),
    ("pI-invoice", "pI", 900, "i2", "invoice_sent", "billing", "service"),
    ("pR-buy", "pR", 5, "r1", "purchase", "web", "purchase"),
    ("pR-look", "pR", 3000, "r2", "product_view", "web", "consideration"),
    ("pN-look", "pN", 7, "n1", "product_view", "web", "consideration"),
]


def test_ties_and_care_after_buying(clickhouse: Any) -> None:
    empty(clickhouse)
    values = ", ".join(
        f"('{e}', toDateTime64('2026-10-01 00:00:00', 3, 'UTC') + INTERVAL {minute} MINUTE, '{p}', '{p}', "
        f"'{s}', '{kind}', '{channel}', '{kind}', '{stage}')" for e, p, minute, s, kind, channel, stage in EVENTS)
    clickhouse.command("INSERT INTO parcours.events (event_id, occurred_at, person_id, anchor_id, session_id, "
                       f"event_type, channel, touchpoint, stage) VALUES {values}")
    sequence = clickhouse.query("SELECT event_id, next_event_id FROM parcours.v_event_sequence "
                                "WHERE person_id = 'pT'").result_rows
    assert dict(sequence) == {"b-checkout": "a-buy", "a-buy": ""}
    ends = {tp: n for tp, n in clickhouse.query(
        "SELECT touchpoint, journeys_ended FROM parcours.v_dropoffs").result_rows}
    assert ends == {"product_view": 2}  # pR's return visit and pN; not pT's checkout, not pI's invoice
