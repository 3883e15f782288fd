"""Batch jobs that complete the views once a replay (or the demo) has reached ClickHouse:
re-sessionize merged persons, then recompute the data-driven attribution."""

from __future__ import annotations

import logging

from clickhouse_connect.driver.client import Client

from pipeline.settings import Settings
from pipeline.sink.clickhouse import lock

log = logging.getLogger(__name__)


def after_replay(client: Client, settings: Settings) -> None:
    from jobs import attribution, resessionize

    with lock:
        result = resessionize.run(client, settings.session_gap_s)
        log.info("re-sessionized %d merged persons: %d -> %d sessions", result.persons,
                 result.sessions_before, result.sessions_after)
        markov = attribution.run_markov(client)
        log.info("markov attribution: %d rows", markov.rows)
