"""Batch jobs that complete the views once a replay (or the demo) has reached ClickHouse:
re-sessionize merged persons, then recompute the data-driven attribution."""

from __future__ import annotations

import logging

from clickhouse_connect.driver.client import Client

from pipeline.settings import Settings
from pipeline.sink.clickhouse import lock

log = logging.getLogger(__name__)


def after_replay(client: Client, settings: Settings, everyone: bool = False) -> None:
    """`everyone`: re-sessionize all persons, not only merged ones (after a killed replay)."""
    from jobs import attribution, resessionize

    with lock:
        result = resessionize.run(client, settings.session_gap_s, everyone=everyone)
        log.info("re-sessionized %d %spersons: %d -> %d sessions", result.persons,
                 "" if everyone else "merged ", result.sessions_before, result.sessions_after)
        markov = attribution.run_markov(client)
        log.info("markov attribution: %d rows", markov.rows)
