"""BI tools through SQLAlchemy: the clickhouse-connect dialect (`clickhousedb://`, what Superset
uses) lists Parcours' views and queries them.

The dialect's DB-API connection builds its client with clickhouse-connect's `create_client`,
which accepts a `dsn`; a `chdb://PATH` DSN gives a client on the embedded engine instead of an
HTTP server. So `create_engine("clickhousedb://", connect_args={"dsn": "chdb://PATH"})` runs
the real dialect (reflection, compiler, result types) over chDB, the engine of this test
process (clients on one path share the engine). Only the HTTP transport is not exercised; the
URL form a BI tool uses against a server is checked by parsing it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import MetaData, Table, create_engine, func, inspect, select, text
from sqlalchemy.engine import Engine, make_url

pytestmark = pytest.mark.integration

CONTRACT_VIEWS = {"v_events", "v_sessions", "v_identities", "v_attribution", "v_conversions",
                  "v_satisfaction_daily", "v_kpi_daily", "v_dropoffs", "v_moments_of_truth"}


@pytest.fixture(scope="module")
def engine(clickhouse: Any) -> Iterator[Engine]:
    from tests.integration import journeys_data as journeys

    journeys.truncate_all(clickhouse)
    journeys.insert_events(clickhouse, journeys.EVENTS)
    clickhouse.insert("parcours.person_merges", [list(r) for r in journeys.PERSON_MERGES],
                      column_names=journeys.PERSON_MERGE_COLUMNS)
    bi = create_engine("clickhousedb://", connect_args={"dsn": f"chdb://{clickhouse.path}"})
    yield bi
    bi.dispose()
    journeys.truncate_all(clickhouse)


def test_dialect_lists_the_views_and_tables(engine: Engine) -> None:
    inspector = inspect(engine)
    views = set(inspector.get_view_names(schema="parcours"))
    assert CONTRACT_VIEWS <= views, CONTRACT_VIEWS - views
    tables = set(inspector.get_table_names(schema="parcours"))
    assert {"dead_letters", "events", "sessions"} <= tables
    assert "parcours" in inspector.get_schema_names()


def test_reflected_view_is_queried_like_a_table(engine: Engine, clickhouse: Any) -> None:
    v_events = Table("v_events", MetaData(), schema="parcours", autoload_with=engine)
    assert {"event_id", "occurred_at", "person_id", "session_id", "event_type", "channel", "touchpoint",
            "stage", "revenue"} <= set(v_events.c.keys())
    assert "DateTime64" in type(v_events.c.occurred_at.type).__name__
    query = (select(v_events.c.channel, func.count().label("events"), func.sum(v_events.c.revenue).label("revenue"))
             .group_by(v_events.c.channel).order_by(v_events.c.channel))
    with engine.connect() as conn:
        got = [tuple(row) for row in conn.execute(query)]
    want = [tuple(r) for r in clickhouse.query(
        "SELECT channel, count(), sum(revenue) FROM parcours.v_events GROUP BY channel ORDER BY channel").result_rows]
    assert got == want and len(got) > 3


def test_text_query_with_a_bound_parameter(engine: Engine) -> None:
    with engine.connect() as conn:
        merged = conn.execute(text("SELECT count() FROM parcours.v_events WHERE person_id = :person"),
                              {"person": "pE"}).scalar()
    assert merged == 5  # e03 was written as pE2 and follows the merge to pE


def test_bi_url_form_for_a_server() -> None:
    """What Superset or Metabase users type (see README, BI tools)."""
    url = make_url("clickhousedb://parcours_bi:secret@clickhouse:8123/parcours")
    engine = create_engine(url)
    _, kwargs = engine.dialect.create_connect_args(url)
    assert kwargs == {"host": "clickhouse", "port": 8123, "username": "parcours_bi", "password": "secret",
                      "database": "parcours"}
    assert engine.dialect.name == "clickhousedb"
