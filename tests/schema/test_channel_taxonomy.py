"""A channel the taxonomy does not list is accepted with category, ownership and stage
"unknown" (0019): v_channel_taxonomy lists it so, and a BI join on it gives no empty category."""

from __future__ import annotations

from typing import Any

from pipeline.taxonomy import taxonomy
from tests.conftest import empty


def test_unlisted_channels_are_unknown_in_the_reference_view(clickhouse: Any) -> None:
    empty(clickhouse)
    listed = sorted(taxonomy().channels)
    clickhouse.command("INSERT INTO parcours.events (event_id, occurred_at, event_type, channel) VALUES "
                       f"('t1', now64(3), 'page_view', '{listed[0]}'), ('t2', now64(3), 'chat_message', 'whatsapp'), "
                       "('t3', now64(3), 'chat_message', 'whatsapp'), ('t4', now64(3), 'store_visit', 'kiosk')")
    rows = {channel: (category, ownership, stage) for channel, category, ownership, stage in clickhouse.query(
        "SELECT channel, category, ownership, default_stage FROM parcours.v_channel_taxonomy").result_rows}
    assert sorted(rows) == sorted([*listed, "whatsapp", "kiosk"])  # each channel once
    assert rows["whatsapp"] == rows["kiosk"] == ("unknown", "unknown", "unknown")
    known = taxonomy().channels[listed[0]]
    assert rows[listed[0]] == (known.category, known.ownership, known.default_stage)
    joined = clickhouse.query("SELECT e.channel, t.category FROM parcours.v_events AS e "
                              "LEFT JOIN parcours.v_channel_taxonomy AS t ON t.channel = e.channel "
                              "SETTINGS join_use_nulls = 0").result_rows
    assert len(joined) == 4 and all(category for _channel, category in joined)
