"""ClickHouse refusing inserts (the real engine's TOO_MANY_PARTS, a transient error) while a
replay runs: the sink holds a bounded buffer, pauses its partitions, retries with backoff,
says so in the log, and resumes when ClickHouse accepts again; nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from jobs import replay as replay_job
from jobs.simulate import simulate
from pipeline.embedded.stack import Stack
from pipeline.settings import Settings
from pipeline.sink import clickhouse as ch
from pipeline.sink.edge import MAX_MESSAGES, MAX_ROWS
from tests.conftest import empty
from tests.integration.refusing import end_the_outage, remove_the_warm_up, replay_into_an_outage

pytestmark = pytest.mark.integration

OUTAGE_S = 4.0


def test_sink_waits_out_a_clickhouse_refusal(tmp_path: Path, clickhouse, caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # an outage longer than the replay's stall limit is waited out (and said), not a failure;
    # the limit is back to its own once the outage ends (what follows may take longer than 1 s)
    stall_s = replay_job.STALL_TIMEOUT_S
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
            running = await replay_into_an_outage(stack, clickhouse, str(source))
            try:
                for _ in range(int(OUTAGE_S / 0.1)):
                    held.append(sink._rows())
                    await asyncio.sleep(0.1)
            finally:
                end_the_outage(clickhouse)
                monkeypatch.setattr(replay_job, "STALL_TIMEOUT_S", stall_s)
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
    remove_the_warm_up(clickhouse)
    rows = ch.query_rows(clickhouse, "SELECT count(), uniqExact(event_id) FROM parcours.v_events")
    assert rows == [(sim.truth.valid_event_count, sim.truth.valid_event_count)]
