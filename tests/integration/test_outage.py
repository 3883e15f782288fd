"""ClickHouse refusing inserts (the real engine's TOO_MANY_PARTS, a transient error) while a
replay runs: the sink holds a bounded buffer, pauses its partitions, retries with backoff,
says so in the log, and resumes when ClickHouse accepts again; nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from jobs import replay as replay_job
from jobs.replay import replay
from jobs.simulate import simulate
from pipeline.embedded.stack import Stack
from pipeline.settings import Settings
from pipeline.sink import clickhouse as ch
from pipeline.sink.edge import MAX_MESSAGES, MAX_ROWS
from tests.conftest import empty

pytestmark = pytest.mark.integration

OUTAGE_S = 4.0


def command(client, sql: str) -> None:  # type: ignore[no-untyped-def]
    with ch.lock:
        client.command(sql)


def test_sink_waits_out_a_clickhouse_refusal(tmp_path: Path, clickhouse, caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # an outage longer than the replay's stall limit is waited out (and said), not a failure
    monkeypatch.setattr(replay_job, "STALL_TIMEOUT_S", 1.0)
    monkeypatch.setattr(replay_job, "OUTAGE_LOG_S", 1.0)
    empty(clickhouse)
    url = next(u for u, c in ch._clients.items() if c is clickhouse)
    sim = simulate(persons=600, seed=21)
    source = tmp_path / "events.ndjson"
    source.write_bytes(b"\n".join(sim.lines) + b"\n")
    settings = Settings.from_env({"PARCOURS_DATA_DIR": str(tmp_path / "data"), "PARCOURS_CLICKHOUSE_URL": url,
                                  "PARCOURS_PII_SALT": "outage"})
    held: list[int] = []

    async def scenario() -> None:
        async with Stack(settings) as stack:
            sink = stack.pipeline.sink  # type: ignore[union-attr]
            # one part in the table, and at most one allowed: every insert is refused
            command(clickhouse, "INSERT INTO parcours.events (event_id, occurred_at, event_type) "
                                "VALUES ('warm-up', now64(3), 'page_view')")
            command(clickhouse, "ALTER TABLE parcours.events MODIFY SETTING parts_to_throw_insert = 1")
            running = asyncio.create_task(replay(stack, [str(source)], progress=False))
            try:
                while not sink.paused:
                    assert not running.done(), "the replay finished before the outage bit"
                    await asyncio.sleep(0.05)
                for _ in range(int(OUTAGE_S / 0.1)):
                    held.append(sink._rows())
                    await asyncio.sleep(0.1)
            finally:
                command(clickhouse, "ALTER TABLE parcours.events MODIFY SETTING parts_to_throw_insert = 3000")
            await running
            assert not sink.paused

    with caplog.at_level(logging.WARNING):
        asyncio.run(scenario())
    assert max(held) <= MAX_ROWS + MAX_MESSAGES * 1000  # bounded while paused: the rest waits in Kafka
    assert len(set(held)) == 1  # nothing consumed while paused
    messages = [r.getMessage() for r in caplog.records]
    assert any("consumption paused" in m for m in messages)
    assert any("consumption resumed" in m for m in messages)
    assert any("the replay waits for ClickHouse" in m for m in messages)
    command(clickhouse, "DELETE FROM parcours.events WHERE event_id = 'warm-up'")
    rows = ch.query_rows(clickhouse, "SELECT count(), uniqExact(event_id) FROM parcours.v_events")
    assert rows == [(sim.truth.valid_event_count, sim.truth.valid_event_count)]
