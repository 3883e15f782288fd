"""ClickHouse refusing every insert into parcours.events (the real engine's TOO_MANY_PARTS, a
transient error), for the outage tests: one part in the table and at most one allowed."""

from __future__ import annotations

import asyncio
from typing import Any

from jobs.replay import replay
from pipeline.embedded.stack import Stack
from pipeline.sink import clickhouse as ch


def command(client: Any, sql: str) -> None:
    with ch.lock:
        client.command(sql)


async def replay_into_an_outage(stack: Stack, client: Any, source: str) -> asyncio.Task[Any]:
    """Start refusing inserts, start a replay of `source`, and return its task once the sink has
    paused (the outage bit)."""
    sink = stack.pipeline.sink  # type: ignore[union-attr]
    command(client, "INSERT INTO parcours.events (event_id, occurred_at, event_type) "
                    "VALUES ('warm-up', now64(3), 'page_view')")
    command(client, "ALTER TABLE parcours.events MODIFY SETTING parts_to_throw_insert = 1")
    running = asyncio.create_task(replay(stack, [source], progress=False))
    while not sink.paused:
        assert not running.done(), "the replay finished before the outage bit"
        await asyncio.sleep(0.05)
    return running


def end_the_outage(client: Any) -> None:
    command(client, "ALTER TABLE parcours.events MODIFY SETTING parts_to_throw_insert = 3000")


def remove_the_warm_up(client: Any) -> None:
    command(client, "DELETE FROM parcours.events WHERE event_id = 'warm-up'")
