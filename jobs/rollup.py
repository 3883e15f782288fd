"""Restate days of the KPI rollup (`kpi_daily_state`, 0007) from the facts as they are now.

strategy: the materialized view rolls each event up when the sink writes it, with the session
the event has then (its current one, 0025). When that session is re-cut later (two persons merged, `parcours
resessionize`, a replay run again: each run's streaming stage names its sessions afresh), the
old id stays in the day's set of session ids and the session counts twice. An aggregate state
cannot be edited, so the rows of the affected days are deleted and recomputed: the view's own
query (as the server has it, so the two never diverge) over the events of those days, each in
its current session. `forget` does the same for the days of an erased person's events.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import date
from pathlib import Path

from clickhouse_connect.driver.client import Client

from pipeline.errors import Terminal
from pipeline.sink.clickhouse import lock

ROLLUP = "kpi_daily_state"
SQL = Path(__file__).parent / "sql" / "rollup"


def restate(client: Client, days: Collection[date]) -> int:
    """Delete the rollup rows of `days` and recompute them; the number of rows deleted. Rows the
    sink adds meanwhile do not count twice: the states are sets."""
    if not days:
        return 0
    params = {"days": sorted(days)}
    where = "day IN {days:Array(Date)}"
    columns = ", ".join(row[0] for row in client.query(_sql("columns")).result_rows)
    source = rollup_query(str(client.query(_sql("definition")).result_rows[0][0]))
    with lock:
        rows = int(client.query(f"SELECT count() FROM parcours.{ROLLUP} WHERE {where}", parameters=params)
                   .result_rows[0][0])
        if rows:
            client.command(f"DELETE FROM parcours.{ROLLUP} WHERE {where}", parameters=params)
        client.command(f"INSERT INTO parcours.{ROLLUP} SELECT {columns} FROM ({source})", parameters=params)
    return rows


def ingested_days(client: Client, since_ms: int) -> set[date]:
    """The days of the events written since `since_ms` (epoch ms)."""
    return {row[0] for row in client.query(_sql("ingested_days"), parameters={"since": since_ms}).result_rows}


def rollup_query(as_select: str) -> str:
    """The rollup's materialized-view query over the current events of {days} only: every
    `parcours.events` in it (the block, in the view; its subqueries find the current sessions
    of the block's events) becomes those events."""
    current = f"({_sql('current_events')})"
    query, found = re.subn(r"\bparcours\.events\b(?!_)", lambda _: current, as_select)
    if not found or "parcours.event_sessions" not in as_select:
        raise Terminal("the KPI rollup's view (parcours.kpi_daily_mv) no longer reads parcours.events with "
                       "their current sessions", hint="run `parcours migrate`, or update jobs/rollup.py rollup_query "
                       "for the new definition")
    return query


def _sql(name: str) -> str:
    return (SQL / f"{name}.sql").read_text()
