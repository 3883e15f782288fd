"""GET /metrics on every worker: this process's counters in the Prometheus text format.

strategy: nothing is counted twice. The stage counters already live in `Stats` (progress
lines and summaries read them); a collector turns them into counter families at scrape
time. Histograms get one observation per batch (a stage handler's `Stats.timed`) or per
ClickHouse insert (`Stats.sink_inserted`), through the `Stats.observer` hook, never one per
event. Consumer lag is computed at scrape time, per group/topic/partition this process
consumes: high watermark (known from the last fetch response, no request) minus the
position (the edges, on librdkafka, commit after each batch) or, for the Faust agents,
minus the committed offset (Faust commits what its agents have acknowledged).

Metric families (all prefixed `parcours_`):
  events_in_total{stage}, events_out_total{stage}   messages taken / events passed on
  dead_letters_total{reason}                        rejected input, by reason code
  duplicates_total                                  events dropped by event_id
  identity_merges_total, identity_refusals_total, identity_shared_total
  sink_rows_total{table}                            rows inserted into ClickHouse
  stage_busy_seconds_total{stage}                   time inside the stage handlers
  collector_requests_total{outcome}                 HTTP collector POSTs: accepted, or the refusal's code
  collector_messages_total                          messages the collector produced to the raw topic
  batch_seconds{stage}                              histogram, one observation per batch
  sink_insert_seconds{table}, sink_batch_rows{table}  histograms, one per insert
  consumer_lag{group,topic,partition}               messages behind the high watermark
  ready                                             1 when /ready would answer 200
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import faust
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pipeline.kafka import LIVE_CONSUMERS
from pipeline.stats import Stats

if TYPE_CHECKING:
    from pipeline.app import Pipeline

log = logging.getLogger(__name__)

#: Seconds; a batch takes milliseconds on a quiet worker, seconds under a replay.
LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Rows per ClickHouse insert; the sink holds at most 25 000 per table (pipeline/sink/edge.py).
ROWS_BUCKETS = (1, 10, 100, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000)
#: A scrape never waits longer than this for a consumer position.
POSITION_TIMEOUT_S = 0.5

Lag = dict[tuple[str, str, int], int]


class Histograms:
    """The `Stats.observer`: batch and insert histograms on this worker's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._batch = Histogram("parcours_batch_seconds", "Wall time of one batch in a stage handler",
                                ["stage"], buckets=LATENCY_BUCKETS, registry=registry)
        self._insert = Histogram("parcours_sink_insert_seconds", "Wall time of one ClickHouse insert",
                                 ["table"], buckets=LATENCY_BUCKETS, registry=registry)
        self._rows = Histogram("parcours_sink_batch_rows", "Rows in one ClickHouse insert",
                               ["table"], buckets=ROWS_BUCKETS, registry=registry)

    def batch(self, stage: str, seconds: float) -> None:
        self._batch.labels(stage).observe(seconds)

    def insert(self, table: str, rows: int, seconds: float) -> None:
        self._insert.labels(table).observe(seconds)
        self._rows.labels(table).observe(rows)


class StatsCollector(Collector):
    """Counter families read from `Stats`, plus the lag and readiness the view refreshed."""

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self.lag: Lag = {}
        self.ready = False

    def collect(self) -> Iterator[Metric]:
        s = self.stats
        rejected = sum(s.rejected.values())
        yield _by("parcours_events_in", "Messages or events a stage took in", "stage",
                  {"ingest": s.ingested + rejected, "identity": s.resolved + s.duplicates,
                   "sessions": s.sessionized})
        yield _by("parcours_events_out", "Events a stage passed on", "stage",
                  {"ingest": s.ingested, "identity": s.resolved, "sessions": s.sessionized})
        yield _by("parcours_dead_letters", "Rejected raw messages, by reason code", "reason", s.rejected)
        yield _one("parcours_duplicates", "Events dropped as re-deliveries (same event_id)", s.duplicates)
        yield _one("parcours_identity_merges", "Person re-mappings (merges, renames, splits)", s.merges)
        yield _one("parcours_identity_refusals", "Links refused by a per-kind limit", s.refusals)
        yield _one("parcours_identity_shared", "Identifiers marked shared", s.shared)
        yield _by("parcours_sink_rows", "Rows inserted into ClickHouse", "table", s.inserted)
        yield _by("parcours_stage_busy_seconds", "Seconds spent inside each stage's handler", "stage",
                  s.stage_seconds)
        yield _by("parcours_collector_requests", "POSTs to the HTTP collector, by outcome (accepted or the "
                  "refusal's code)", "outcome", s.collector_requests)
        yield _one("parcours_collector_messages", "Messages the HTTP collector produced to the raw topic",
                   s.collector_messages)
        lag = GaugeMetricFamily("parcours_consumer_lag", "Messages between the consumer and the high watermark",
                                labels=["group", "topic", "partition"])
        for (group, topic, partition), value in sorted(self.lag.items()):
            lag.add_metric([group, topic, str(partition)], value)
        yield lag
        yield GaugeMetricFamily("parcours_ready", "1 when the worker's stages are running", value=int(self.ready))


def _by(name: str, doc: str, label: str, values: dict[str, Any]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family


def _one(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


async def consumer_lag(app: faust.App) -> Lag:
    """Lag per (group, topic, partition) of every consumer this process runs; partitions
    whose high watermark is not known yet (nothing fetched) are left out."""
    lag: Lag = {}
    for cons in list(LIVE_CONSUMERS):
        group = cons.group or "-"
        for tp in list(cons.assignment()):
            try:
                high = cons.highwater(tp)
                position = await asyncio.wait_for(cons.position(tp), POSITION_TIMEOUT_S)
            except Exception:  # unassigned meanwhile, or stopping: skip this partition
                continue
            if high is not None:
                lag[(group, tp.topic, tp.partition)] = max(0, high - position)
    if app.started:
        lag.update(_faust_lag(app))
    return lag


def _faust_lag(app: faust.App) -> Lag:
    lag: Lag = {}
    consumer = app.consumer
    committed = getattr(consumer, "_committed_offset", {})  # Faust keeps no public accessor
    try:
        assigned = list(consumer.assignment())
    except Exception:  # not started or rebalancing
        return lag
    for tp in assigned:
        try:
            high = consumer.highwater(tp)
        except Exception:
            continue
        done = committed.get(tp)
        if high is not None and done is not None:
            lag[(app.conf.id, tp.topic, tp.partition)] = max(0, high - done)
    return lag


def register(app: faust.App, pipeline: Pipeline) -> None:
    """Serve GET /metrics on the worker's Faust web server."""
    # The *_created series double the output and nothing here reads them.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    registry = CollectorRegistry(auto_describe=True)
    stats = pipeline.rt.stats
    stats.observer = Histograms(registry)
    collector = StatsCollector(stats)
    registry.register(collector)

    @app.page("/metrics")
    class Metrics(faust.web.View):
        async def get(self, request: faust.web.Request) -> faust.web.Response:
            collector.lag = await consumer_lag(app)
            collector.ready = not pipeline.failed and bool(app.started)
            # The header, not content_type=: aiohttp refuses a charset inside content_type.
            return self.bytes(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})
