"""The facts topic carries rows column by column; the builders must agree with the row builders."""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.facts.rows import event_columns
from pipeline.facts.tables import TABLES, columns_of, columns_to_arrow


def event_row(event: dict[str, Any]) -> dict[str, Any]:
    """One events-table row, spelled out field by field: the reference for `event_columns`."""
    return {
        "event_id": event["event_id"], "occurred_at": event["occurred_at"],
        "person_id": event["person_id"], "anchor_id": event["anchor_id"],
        "session_id": event["session_id"],
        "event_type": event["event_type"], "channel": event["channel"],
        "touchpoint": event["touchpoint"], "stage": event["stage"], "revenue": event["revenue"],
        "currency": event["currency"], "order_id": event["order_id"], "csat": event["csat"],
        "nps": event["nps"], "identifiers": event["identifiers"],
        "properties": orjson.dumps(event["properties"]).decode(),
        "context": orjson.dumps(event["context"]).decode(),
        "ingested_at": event["ingested_at"],
    }


texts = st.text(max_size=12)
events = st.lists(st.fixed_dictionaries({
    "event_id": texts, "occurred_at": st.integers(0, 2**41), "person_id": texts, "anchor_id": texts,
    "session_id": texts, "event_type": texts, "channel": texts, "touchpoint": texts, "stage": texts,
    "revenue": st.none() | st.floats(0, 1e6), "currency": st.none() | texts, "order_id": st.none() | texts,
    "csat": st.none() | st.integers(1, 5), "nps": st.none() | st.integers(0, 10),
    "identifiers": st.dictionaries(texts, texts, max_size=3),
    "properties": st.dictionaries(texts, st.integers(-2**63, 2**63 - 1) | texts, max_size=3),
    "context": st.dictionaries(texts, texts, max_size=2), "ingested_at": st.integers(0, 2**41),
}), max_size=20)


@given(events)
def test_event_columns_are_the_event_rows_transposed(batch: list[dict[str, Any]]) -> None:
    direct = event_columns(batch)
    assert set(direct) == set(TABLES["events"].names)
    assert direct == columns_of("events", [event_row(e) for e in batch])


@settings(deadline=None)  # the first call loads Arrow's conversion code
@given(events)
def test_columns_make_the_same_arrow_block_as_rows(batch: list[dict[str, Any]]) -> None:
    rows = [event_row(e) for e in batch]
    block = columns_to_arrow("events", event_columns(batch))
    assert block.schema == TABLES["events"]
    assert block.equals(pa.Table.from_pylist(rows, schema=TABLES["events"]))
