"""In-process counters: what each stage took in and put out (progress lines, summaries,
and GET /metrics, see pipeline/metrics.py)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol


class Observer(Protocol):
    """Receives one observation per batch or per insert (histograms), never one per event."""

    def batch(self, stage: str, seconds: float) -> None: ...

    def insert(self, table: str, rows: int, seconds: float) -> None: ...


@dataclass
class Stats:
    ingested: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    resolved: int = 0
    sessionized: int = 0
    inserted: Counter[str] = field(default_factory=Counter)
    insert_seconds: float = 0.0
    merges: int = 0
    refusals: int = 0
    shared: int = 0

    stage_seconds: Counter[str] = field(default_factory=Counter)
    """CPU-side wall time spent inside each stage's handler (not waiting for Kafka)."""
    stage_batches: Counter[str] = field(default_factory=Counter)
    """How many times each stage's handler ran (batches)."""
    changelog_records: int = 0
    collector_requests: Counter[str] = field(default_factory=Counter)
    """POSTs to the HTTP collector by outcome: `accepted`, or the refusal's code (`invalid_write_key`, ...)."""
    collector_messages: int = 0
    """Messages the HTTP collector produced to the raw topic."""
    observer: Observer | None = field(default=None, repr=False, compare=False)
    """Set by pipeline/metrics.py when the worker serves /metrics."""

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self.stage_seconds[stage] += elapsed
            self.stage_batches[stage] += 1
            if self.observer is not None:
                self.observer.batch(stage, elapsed)

    def sink_inserted(self, table: str, rows: int, seconds: float) -> None:
        self.inserted[table] += rows
        self.insert_seconds += seconds
        if self.observer is not None:
            self.observer.insert(table, rows, seconds)
