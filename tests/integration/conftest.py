"""Fixtures shared by integration test modules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.journeys_data import (
    EVENTS,
    PERSON_MERGE_COLUMNS,
    PERSON_MERGES,
    SESSION_COLUMNS,
    insert_events,
    session_rows,
    truncate_all,
)


@pytest.fixture(scope="module")
def loaded(clickhouse: Any) -> Iterator[Any]:
    """The journeys dataset (journeys_data.py) in the engine, for one test module."""
    truncate_all(clickhouse)  # the rollup also holds states from other modules' inserts
    insert_events(clickhouse, EVENTS)
    clickhouse.insert("parcours.sessions", [list(r) for r in session_rows()],
                      column_names=SESSION_COLUMNS)
    clickhouse.insert("parcours.person_merges", [list(r) for r in PERSON_MERGES],
                      column_names=PERSON_MERGE_COLUMNS)
    yield clickhouse
    truncate_all(clickhouse)

