"""v_identities.first_seen is the earliest row written for an identifier, also once the
identities table has merged its rows (a ReplacingMergeTree keeps the one inserted last)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pipeline.identity.rules import node_id
from tests.conftest import empty

COLUMNS = ["kind", "value", "person_id", "anchor_id", "first_seen"]


def test_the_earliest_sighting_survives_a_merge_that_keeps_a_later_row(clickhouse: Any) -> None:
    empty(clickhouse)
    anchor = node_id("email:h1")
    for hour in (12, 9, 15):  # a restarted worker writes what it meets first: 15:00, inserted last
        clickhouse.insert("parcours.identities", [["email", "h1", anchor, anchor, datetime(2026, 11, 3, hour, tzinfo=UTC)]],
                          column_names=COLUMNS)
    clickhouse.command("OPTIMIZE TABLE parcours.identities FINAL")
    clickhouse.command("OPTIMIZE TABLE parcours.identity_first_seen FINAL")
    assert clickhouse.query("SELECT count() FROM parcours.identities").result_rows == [(1,)]
    rows = clickhouse.query("SELECT kind, value, person_id, first_seen FROM parcours.v_identities").result_rows
    assert [(k, v, p, t.hour) for k, v, p, t in rows] == [("email", "h1", anchor, 9)]


def test_rows_written_before_the_sightings_table_still_count(clickhouse: Any) -> None:
    empty(clickhouse)
    anchor = node_id("user_id:u1")
    clickhouse.insert("parcours.identities", [["user_id", "u1", anchor, anchor, datetime(2026, 11, 3, 8, tzinfo=UTC)]],
                      column_names=COLUMNS)
    clickhouse.command("TRUNCATE TABLE parcours.identity_first_seen")  # as if written before migration 0014
    rows = clickhouse.query("SELECT value, first_seen FROM parcours.v_identities").result_rows
    assert [(v, t.hour) for v, t in rows] == [("u1", 8)]
