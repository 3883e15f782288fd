"""The sink inserts the facts topic's JSONColumns documents as they are: ClickHouse must read
them into the same rows as the Arrow blocks of the same rows (times, nulls, maps, arrays)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings

from pipeline.facts.rows import event_columns
from pipeline.facts.tables import TABLES, columns_of, json_columns, to_arrow
from tests.conftest import empty
from tests.unit.test_facts_columns import event_row, events

AT = 1_794_124_444_837  # epoch ms with a millisecond part a float must not round away


def stored(client: Any, table: str) -> list[tuple[Any, ...]]:
    return sorted(client.query(f"SELECT * FROM parcours.{table}").result_rows, key=repr)


def both_ways(client: Any, table: str, rows: list[dict[str, Any]], document: bytes) -> tuple[list, list]:
    empty(client)
    client.insert_arrow(f"parcours.{table}", to_arrow(table, rows))
    by_arrow = stored(client, table)
    empty(client)
    client.raw_insert(f"parcours.{table}", insert_block=document, fmt="JSONColumns")
    return by_arrow, stored(client, table)


ROWS: dict[str, list[dict[str, Any]]] = {
    "sessions": [{"session_id": "s1", "person_id": "p1", "started_at": AT, "ended_at": AT + 1, "event_count": 3,
                  "channels": ["web", "store"], "entry_touchpoint": "home", "exit_touchpoint": "checkout",
                  "converted": 1, "revenue": 12.5, "version": 1_765_000_000_123_456_789}],
    "identities": [{"kind": "email", "value": "h:ab", "person_id": "p1", "anchor_id": "a1", "first_seen": AT}],
    "person_merges": [{"from_person": "p2", "to_person": "p1", "reason": "login", "event_id": "e1",
                       "merged_at": AT, "version": 7}],
    "identity_links": [{"event_id": "e1", "occurred_at": AT, "identifiers": ["email:h:ab", "cookie:c"],
                        "recorded_at": AT + 999}],
    "identity_refusals": [{"event_id": "e1", "kept": "u1", "refused": "u2", "kind": "user_id", "recorded_at": AT,
                           "withdrawn": 1}],
    "identity_shared": [{"kind": "device_id", "value": "kiosk", "anchor_id": "a9", "marked_at": AT}],
    "session_merges": [{"from_session": "s2", "to_session": "s1", "to_order": "000:s1", "merged_at": AT}],
    "dead_letters": [{"received_at": AT, "source": "raw", "reason": "not JSON", "raw": "{\"x\": \"é\\n\u0000\"",
                      "replay_id": ""}],
}


def test_every_table_reads_its_document_as_its_arrow_block(clickhouse: Any) -> None:
    assert set(ROWS) | {"events"} == set(TABLES)
    for table, rows in ROWS.items():
        by_arrow, by_document = both_ways(clickhouse, table, rows, json_columns(table, columns_of(table, rows)))
        assert by_document == by_arrow and len(by_document) == len(rows), table


def test_documents_one_after_another_are_one_insert(clickhouse: Any) -> None:
    rows = ROWS["session_merges"] * 2
    first, second = ({**row, "from_session": f"s{i}"} for i, row in enumerate(rows))
    document = b"".join(json_columns("session_merges", columns_of("session_merges", [r])) for r in (first, second))
    by_arrow, by_document = both_ways(clickhouse, "session_merges", [first, second], document)
    assert by_document == by_arrow and len(by_document) == 2


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events)
def test_events_read_their_document_as_their_arrow_block(clickhouse: Any, batch: list[dict[str, Any]]) -> None:
    if not batch:
        return
    rows = [event_row(e) for e in batch]
    by_arrow, by_document = both_ways(clickhouse, "events", rows, json_columns("events", event_columns(batch)))
    assert by_document == by_arrow
