"""A barrier that never completes (some of its copies were consumed by a worker that died, or
never sent): the replay's wait sends a new one once nothing moves, and finishes on it."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from jobs import replay as replay_job
from pipeline import codec
from pipeline.embedded.stack import Stack
from pipeline.kafka import flush, produce
from pipeline.settings import Settings
from pipeline.sink import clickhouse as ch
from pipeline.topics import topics
from tests.conftest import empty

pytestmark = pytest.mark.integration


def test_a_lost_barrier_is_replaced_and_the_wait_ends(tmp_path: Path, clickhouse, caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    empty(clickhouse)
    url = next(u for u, c in ch._clients.items() if c is clickhouse)
    settings = Settings.from_env({"PARCOURS_DATA_DIR": str(tmp_path / "data"), "PARCOURS_CLICKHOUSE_URL": url,
                                  "PARCOURS_PII_SALT": "lost-barrier"})
    monkeypatch.setattr(replay_job, "RESEND_S", 1.0)
    monkeypatch.setattr(replay_job, "STALL_TIMEOUT_S", 60.0)

    async def scenario() -> set[str]:
        async with Stack(settings) as stack:
            rt = stack.pipeline.rt  # type: ignore[union-attr]
            # the copy of raw partition 0 only: the identity stage waits for the others forever
            produce(rt.producer, rt.topics.raw.name, codec.raw_control("lost"), partition=0,
                    headers=[(codec.RAW_CONTROL_HEADER, b"barrier")])
            flush(rt.producer)
            await asyncio.wait_for(replay_job.wait_for_barrier(stack, "lost", 0, False), 50)
            return {b for b, _ in stack.pipeline.sink.reached}  # type: ignore[union-attr]

    with caplog.at_level(logging.WARNING, logger="jobs.replay"):
        reached = asyncio.run(scenario())
    assert "lost" not in reached and "lost-1" in reached
    assert any("barrier lost has not come through" in r.getMessage() for r in caplog.records)
    rows = ch.query_rows(clickhouse, "SELECT uniqExact(partition) FROM parcours.pipeline_barriers "
                                     "WHERE barrier_id = 'lost-1'")
    assert rows == [(topics().facts.partitions,)]
