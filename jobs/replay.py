"""Replay NDJSON files through the real pipeline and wait until ClickHouse has everything.

strategy: produce every line to the raw topic (round-robin over partitions, tagged with a
replay id header), then an end-of-input barrier on every raw partition (pipeline/barrier.py).
The replay is complete when the sink has recorded the barrier for every facts partition:
by then every event is in ClickHouse, open sessions are flushed and merges recorded.
A barrier caught in a worker's crash or a rebalance never completes (which copies arrived is
kept in memory); like Flink after a failed checkpoint, the waiter sends a new one.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass

from jobs.finish import after_replay
from jobs.replay_input import read_lines, require_inputs
from jobs.replay_ledger import Ledger
from jobs.restate import restate_persons, retire_session_merges
from pipeline.barrier import partitions_past, send_end_of_input
from pipeline.embedded.stack import Stack
from pipeline.errors import Terminal
from pipeline.ingest import oversized
from pipeline.ingest.edge import REPLAY_HEADER
from pipeline.kafka import flush, produce
from pipeline.progress import Progress
from pipeline.runtime import Runtime
from pipeline.sink.clickhouse import query_rows

log = logging.getLogger(__name__)

PRODUCE_CHUNK = 20_000
STALL_TIMEOUT_S = 120.0
#: Seconds without progress after which a new barrier is sent (the last one may be lost).
RESEND_S = 20.0
HEARTBEAT_S = 10.0  # the ledger row is refreshed this often while a replay waits
OUTAGE_LOG_S = 30.0  # a replay waiting out a ClickHouse outage says so this often


@dataclass(frozen=True)
class ReplayResult:
    replay_id: str
    lines: int
    rejected: int
    duplicates: int
    seconds: float
    persons: int
    sessions: int
    events_in_clickhouse: int

    @property
    def accepted(self) -> int:
        return self.lines - self.rejected

    @property
    def lines_per_second(self) -> float:
        return self.lines / self.seconds if self.seconds else 0.0

    @property
    def events_per_second(self) -> float:
        """Accepted events only: rejected lines cost little and would flatter the rate."""
        return self.accepted / self.seconds if self.seconds else 0.0

    def render(self) -> str:
        # the first three lines are this replay's; the last one counts everything in the
        # database (earlier replays into the same data dir included)
        return "\n".join([
            f"replay {self.replay_id}: {self.lines:,} lines in {self.seconds:.1f}s "
            f"({self.lines_per_second:,.0f} lines/s, {self.events_per_second:,.0f} accepted events/s)",
            f"  accepted   {self.accepted:,}  (of which {self.duplicates:,} duplicate re-sends)",
            f"  rejected   {self.rejected:,}  -> parcours.dead_letters, topic parcours.events.dlq",
            f"  totals in ClickHouse (every replay so far): {self.events_in_clickhouse:,} events, "
            f"{self.persons:,} persons, {self.sessions:,} sessions",
        ])


async def replay(stack: Stack, paths: list[str], progress: bool = True) -> ReplayResult:
    require_inputs(paths)
    assert stack.pipeline is not None and stack.clickhouse is not None
    rt = stack.pipeline.rt
    replay_id = uuid.uuid4().hex[:12]
    started = time.monotonic()
    ledger = Ledger(stack.clickhouse, replay_id, paths)
    interrupted = await asyncio.to_thread(ledger.interrupted)
    if interrupted:
        log.warning("replay %s was interrupted before it finished; its events will not be doubled "
                    "(keyed by event_id) and every person is re-sessionized after this run",
                    ", ".join(interrupted))
    # With an embedded broker the killed run's history (graph, session books) died with it: this
    # run's decisions replace the killed run's. A real Kafka kept that history; restating from
    # one worker's graph there would write over other workers' newer decisions.
    lost_history = bool(interrupted) and stack.settings.embedded_broker
    if lost_history:
        withdrawn = await asyncio.to_thread(retire_session_merges, stack.clickhouse, min(interrupted.values()),
                                            ledger.started_ms)
        log.info("withdrew %d session merges of the interrupted replay", withdrawn)
    await asyncio.to_thread(ledger.record, "running")
    lines = ledger.lines = await produce_lines(rt, paths, replay_id, progress)
    send_barrier(rt, replay_id)
    await wait_for_barrier(stack, replay_id, lines, progress, ledger)
    if lost_history:
        restated = await asyncio.to_thread(restate_persons, stack.clickhouse, rt.graph.restatement())
        log.info("restated the person of %d anchors after the interrupted replay", restated)
    await asyncio.to_thread(after_replay, stack.clickhouse, stack.settings, bool(interrupted), ledger.started_ms)
    await asyncio.to_thread(ledger.record, "done")
    for other in interrupted:
        await asyncio.to_thread(ledger.record, "interrupted", other)
    seconds = time.monotonic() - started
    return summarize(stack, replay_id, lines, seconds)


async def produce_lines(rt: Runtime, paths: list[str], replay_id: str, show: bool) -> int:
    headers = [(REPLAY_HEADER, replay_id.encode())]
    bar = Progress("produce", None) if show else None
    partitions, name, count = rt.topics.raw.partitions, rt.topics.raw.name, 0
    for line in read_lines(paths):
        if len(line) > oversized.HEAD_BYTES:  # a broker would refuse it: its head, marked, is dead-lettered
            line, marks = oversized.cut(line)
            produce(rt.producer, name, line, partition=count % partitions, headers=headers + marks)
        else:
            produce(rt.producer, name, line, partition=count % partitions, headers=headers)
        count += 1
        if count % PRODUCE_CHUNK == 0:
            rt.producer.poll(0)
            await asyncio.sleep(0)  # let the pipeline work while we produce
            if bar:
                bar.update(count)
    if bar:
        bar.update(count, force=True)
        bar.finish()
    return count


def send_barrier(rt: Runtime, barrier_id: str) -> None:
    """An end-of-input barrier after everything produced so far, on every raw partition."""
    send_end_of_input(rt.producer, rt.topics.raw, barrier_id)
    flush(rt.producer)


async def wait_for_barrier(stack: Stack, replay_id: str, lines: int, show: bool,
                           ledger: Ledger | None = None) -> None:
    """Wait until every facts partition has passed the barrier (or one sent after it, if
    nothing moved for RESEND_S); fail if nothing moves for STALL_TIMEOUT_S."""
    assert stack.pipeline is not None
    pipeline, stats = stack.pipeline, stack.pipeline.rt.stats
    expected = pipeline.rt.topics.facts.partitions
    bar = Progress("process", lines) if show else None
    last_progress, last_done = time.monotonic(), -1
    last_beat = last_sent = time.monotonic()
    paused_since = last_outage_log = 0.0
    barriers = [replay_id]
    while True:
        if ledger is not None and time.monotonic() - last_beat > HEARTBEAT_S:
            await asyncio.to_thread(ledger.record, "running")
            last_beat = time.monotonic()
        pipeline.check()
        if stack.broker is not None:
            stack.broker.check()
        done = stats.sessionized + sum(stats.rejected.values()) + stats.duplicates
        if bar:
            bar.update(min(done, lines))
        if await barrier_count(stack, barriers) >= expected:
            break
        now = time.monotonic()
        paused = pipeline.sink is not None and pipeline.sink.paused
        paused_since = (paused_since or now) if paused else 0.0
        if paused:  # an outage is waited out, not a stall: the sink holds its rows, Kafka the rest
            if now - max(paused_since, last_outage_log) > OUTAGE_LOG_S:
                log.warning("the replay waits for ClickHouse to accept inserts again (%.0fs so far); nothing "
                            "is lost, and Ctrl-C is safe: a rerun of the same files writes each event once",
                            now - paused_since)
                last_outage_log = now
            last_progress = last_sent = now  # nothing to resend or give up on while the sink holds it
        elif done != last_done:
            last_progress, last_done = now, done
        elif now - last_progress > STALL_TIMEOUT_S:
            raise Terminal(f"replay made no progress for {STALL_TIMEOUT_S:.0f}s",
                           hint="check the worker log above; is the broker or ClickHouse down?")
        elif now - max(last_progress, last_sent) > RESEND_S:
            barriers.append(f"{replay_id}-{len(barriers)}")
            log.warning("barrier %s has not come through and nothing moved for %.0fs (a worker may have "
                        "died or handed over partitions while it passed): sending %s",
                        barriers[-2], RESEND_S, barriers[-1])
            send_barrier(pipeline.rt, barriers[-1])
            last_sent = now
        await asyncio.sleep(0.1)
    if bar:
        bar.update(lines, force=True)
        bar.finish()


async def barrier_count(stack: Stack, barriers: list[str]) -> int:
    """Partitions past the furthest of the barriers: the local sink knows at once; sinks of
    other workers (production) record it in ClickHouse, which is asked every few seconds."""
    pipeline = stack.pipeline
    assert pipeline is not None and stack.clickhouse is not None
    if pipeline.sink is not None:
        local = max(sum(1 for b, _ in pipeline.sink.reached if b == barrier) for barrier in barriers)
        if local >= pipeline.rt.topics.facts.partitions or time.monotonic() % 3 > 0.15:
            return local
    return await asyncio.to_thread(partitions_past, stack.clickhouse, barriers)


def summarize(stack: Stack, replay_id: str, lines: int, seconds: float) -> ReplayResult:
    assert stack.clickhouse is not None and stack.pipeline is not None
    client = stack.clickhouse
    rejected = query_rows(client, "SELECT count() FROM parcours.dead_letters FINAL "
                                  "WHERE replay_id = {r:String}", {"r": replay_id})[0][0]
    events, persons = query_rows(client, "SELECT count(), uniqExact(person_id) FROM parcours.v_events")[0]
    sessions = query_rows(client, "SELECT count() FROM parcours.v_sessions")[0][0]
    return ReplayResult(replay_id, lines, int(rejected), stack.pipeline.rt.stats.duplicates,
                        seconds, int(persons), int(sessions), int(events))
