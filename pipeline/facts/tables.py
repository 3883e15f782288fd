"""Column layout of each fact table, as Arrow types (`insert_arrow`, the schema test), and the
JSONColumns documents the sink hands to ClickHouse.

Times are epoch milliseconds in the pipeline and DateTime64(3, 'UTC') in ClickHouse. The column
names match infra/clickhouse/000*_*.sql; a schema test checks they agree.
"""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa

MS = pa.timestamp("ms", tz="UTC")

TABLES: dict[str, pa.Schema] = {
    "events": pa.schema([
        ("event_id", pa.string()), ("occurred_at", MS), ("person_id", pa.string()),
        ("anchor_id", pa.string()), ("session_id", pa.string()), ("event_type", pa.string()), ("channel", pa.string()),
        ("touchpoint", pa.string()), ("stage", pa.string()), ("revenue", pa.float64()),
        ("currency", pa.string()), ("order_id", pa.string()), ("csat", pa.uint8()),
        ("nps", pa.uint8()), ("identifiers", pa.map_(pa.string(), pa.string())),
        ("properties", pa.string()), ("context", pa.string()), ("ingested_at", MS),
    ]),
    "sessions": pa.schema([
        ("session_id", pa.string()), ("person_id", pa.string()), ("started_at", MS),
        ("ended_at", MS), ("event_count", pa.uint32()), ("channels", pa.list_(pa.string())),
        ("entry_touchpoint", pa.string()), ("exit_touchpoint", pa.string()),
        ("converted", pa.uint8()), ("revenue", pa.float64()), ("version", pa.uint64()),
    ]),
    "identities": pa.schema([
        ("kind", pa.string()), ("value", pa.string()), ("person_id", pa.string()),
        ("anchor_id", pa.string()), ("first_seen", MS),
    ]),
    "person_merges": pa.schema([
        ("from_person", pa.string()), ("to_person", pa.string()), ("reason", pa.string()),
        ("event_id", pa.string()), ("merged_at", MS), ("version", pa.uint64()),
    ]),
    "identity_links": pa.schema([
        ("event_id", pa.string()), ("occurred_at", MS), ("identifiers", pa.list_(pa.string())),
        ("recorded_at", MS),
    ]),
    "identity_refusals": pa.schema([
        ("event_id", pa.string()), ("kept", pa.string()), ("refused", pa.string()),
        ("kind", pa.string()), ("recorded_at", MS), ("withdrawn", pa.uint8()),
    ]),
    "identity_shared": pa.schema([("kind", pa.string()), ("value", pa.string()), ("anchor_id", pa.string()),
                                  ("marked_at", MS)]),
    "session_merges": pa.schema([
        ("from_session", pa.string()), ("to_session", pa.string()), ("to_order", pa.string()),
        ("merged_at", MS),
    ]),
    "dead_letters": pa.schema([
        ("received_at", MS), ("source", pa.string()), ("reason", pa.string()),
        ("raw", pa.string()), ("replay_id", pa.string()),
    ]),
}


Columns = dict[str, list[Any]]

#: The time columns of each table. ClickHouse's JSON input reads a number into DateTime64 as
#: seconds, so they travel there as seconds with three decimals (exact: a double holds them).
TIME_COLUMNS: dict[str, tuple[str, ...]] = {
    table: tuple(f.name for f in schema if f.type == MS) for table, schema in TABLES.items()}


def json_columns(table: str, columns: Columns) -> bytes:
    """A ClickHouse JSONColumns document of `table`'s rows (`{column: [value, ...], ...}`): the
    sink inserts it without decoding it (ClickHouse parses it, outside the GIL); several
    documents one after the other are one insert."""
    times = {name: [None if ms is None else ms / 1000 for ms in columns[name]] for name in TIME_COLUMNS[table]}
    return orjson.dumps({**columns, **times})


def to_arrow(table: str, rows: list[dict[str, Any]]) -> pa.Table:
    return columns_to_arrow(table, columns_of(table, rows))


def columns_of(table: str, rows: list[dict[str, Any]]) -> Columns:
    """Rows -> one list per column of `table` (what the facts topic carries)."""
    return {name: [row[name] for row in rows] for name in TABLES[table].names}


def columns_to_arrow(table: str, columns: Columns) -> pa.Table:
    """Column lists -> an Arrow block for `insert_arrow`. Converting column by column is ~5x
    faster than `Table.from_pylist` over row dicts (measured: 5.7 vs 28.5 us per event row)."""
    schema = TABLES[table]
    return pa.Table.from_arrays([pa.array(columns[f.name], type=f.type) for f in schema], schema=schema)
