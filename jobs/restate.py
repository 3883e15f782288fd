"""Restate persons and sessions after a killed replay: the new run's decisions replace the
killed run's.

strategy: person_merges keeps, per anchor, the row of highest version, and versions are a
worker's knowledge count. That order holds between workers that share one history (the links
topic, the changelog). An embedded broker keeps nothing in memory across runs: the rerun after
a killed replay rebuilds its graph from zero, so the killed run's rows and the rerun's come
from two histories. An anchor the rerun never remapped (its person stayed its own id) kept
the killed run's row, whose person the rerun may have named otherwise: the mapping stopped
being a fixpoint and one customer's history showed under two person ids. Once the rerun has
seen all input, it writes every anchor it knows, unchanged ones too, above every version on
record: the views follow one run's decisions again.

Sessions: the killed run's session merges are withdrawn. A merge is written at once, the
surviving session's row only once it settles, so a killed run leaves merges into sessions
that never got a row; the rerun cuts the same sessions under the same ids (a hash of person
and first event) and keeps some of them, which the killed run's merge still hides. Events
that take their session's person (through a shared device) were left with none. The rerun
writes its own merges; the killed run's are the rows written between the two starts (an
embedded stack has one writer at a time).
"""

from __future__ import annotations

import time
from pathlib import Path

from clickhouse_connect.driver.client import Client

from pipeline.facts.rows import person_merge_row
from pipeline.facts.tables import to_arrow
from pipeline.identity.changes import Remap
from pipeline.sink.clickhouse import lock, query_rows, scalar

SQL = Path(__file__).parent / "sql" / "restate"


def restate_persons(client: Client, remaps: list[Remap]) -> int:
    """Write a complete anchor -> person mapping (`IdentityGraph.restatement`) above every
    version on record."""
    if not remaps:
        return 0
    with lock:
        version = int(scalar(client, (SQL / "latest_version.sql").read_text()) or 0) + 1
        at_ms = time.time_ns() // 1_000_000
        client.insert_arrow("parcours.person_merges",
                            to_arrow("person_merges", [person_merge_row(r, at_ms, version) for r in remaps]))
    return len(remaps)


def retire_session_merges(client: Client, since_ms: int, until_ms: int) -> int:
    """Withdraw the session merges written in [since_ms, until_ms): the killed replays' own."""
    window = {"since": since_ms, "until": until_ms}
    with lock:
        ((count,),) = query_rows(client, (SQL / "killed_session_merges.sql").read_text(), window)
        if count:
            client.command((SQL / "retire_session_merges.sql").read_text(), parameters=window)
    return int(count)
