"""Batch jobs that complete the views once a replay (or the demo) has reached ClickHouse:
re-sessionize merged persons, then recompute the data-driven attribution."""

from __future__ import annotations

import logging

from clickhouse_connect.driver.client import Client

from pipeline.settings import Settings
from pipeline.sink.clickhouse import lock

log = logging.getLogger(__name__)


def after_replay(client: Client, settings: Settings, everyone: bool = False, since_ms: int | None = None) -> None:
    """`everyone`: re-sessionize all persons, not only merged ones (after a killed replay);
    `since_ms`: the replay's start, whose days of events the KPI rollup restates."""
    from jobs import attribution, resessionize, rollup

    with lock:
        result = resessionize.run(client, settings.session_gap_s, everyone=everyone)
        log.info("re-sessionized %d %spersons: %d -> %d sessions", result.persons,
                 "" if everyone else "merged ", result.sessions_before, result.sessions_after)
        # The days this replay rolled up under sessions it re-cut since, or named afresh (a re-run
        # replay's streaming stage does): the rollup's session counts are exact again.
        days = set(result.days) | (rollup.ingested_days(client, since_ms) if since_ms is not None else set())
        rollup.restate(client, days)
        log.info("KPI rollup restated for %d days", len(days))
        markov = attribution.run_markov(client)
        log.info("markov attribution: %d rows", markov.rows)
        # The contract names this table: a plain count() counts each bad line once. A re-run
        # replay (or one killed and run again) wrote some twice, which the replacing key
        # collapses only at a merge. Small: the bad lines, not the events.
        client.command("OPTIMIZE TABLE parcours.dead_letters FINAL")
