"""The memory one worker's state needs for N persons of 3 identifiers each (run by `jobs.bench`).

`python -m jobs.bench_state --persons 1000000`: every person comes back once, so each is seen
twice: first anonymous (a cookie), then logged in (the cookie, an email and a user id: 3
identifiers). Persons arrive in event-time order over 30 days, so sessions close and leave
memory as a live worker's do, while the identity graph and the profiles (kept for every
person, for HTTP lookups) only grow. Every event goes through the real stage logic, in one
process and without Kafka: ingest (validation, PII hashing and its caches), identity
(`resolve`, with the recent event ids of each partition of `parcours.events.valid`), sessions
and profiles. Prints progress, then one JSON line: the RSS the state
added, the peak RSS, and bytes per identifier and per person.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from datetime import UTC, datetime

import orjson

import pipeline.app  # noqa: F401  (the peak counts the worker's code, Faust and Kafka clients: ~60 MB)
from jobs.bench_runs import peak_rss_mb
from jobs.soak import rss_mb
from pipeline.identity.graph import IdentityGraph
from pipeline.identity.logic import resolve
from pipeline.ingest.dedupe import RecentIds
from pipeline.ingest.logic import IngestConfig, ingest_one
from pipeline.ingest.outcomes import DeadLetter
from pipeline.profiles.state import Profile
from pipeline.profiles.store import ProfileStore
from pipeline.sessions import logic as sessions
from pipeline.sessions.state import SessionBook
from pipeline.taxonomy import identity_kinds, taxonomy
from pipeline.topics import partition_of, topics

START_MS = 1_767_225_600_000  # 2026-01-01
SPAN_MS = 30 * 86_400_000
BATCH = 5_000  # persons per batch, as a worker's batches
GAP_MS, LATENESS_MS = 30 * 60_000, 60 * 60_000


def person_events(i: int, persons: int) -> list[bytes]:
    """Person i's two visits, as raw events (raw email: ingest hashes it)."""
    at = START_MS + i * SPAN_MS // persons
    iso = [datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds") for ms in (at, at + 60_000)]
    cookie = f"a-{i:010x}"
    visit = {"event_type": "page_view", "channel": "web", "touchpoint": "product_page"}
    first = {**visit, "event_id": f"e-{i:010x}-1", "occurred_at": iso[0], "identifiers": {"anonymous_id": cookie}}
    second = {**visit, "event_id": f"e-{i:010x}-2", "occurred_at": iso[1], "event_type": "login",
              "identifiers": {"anonymous_id": cookie, "email": f"customer{i}@example.com", "user_id": f"u{i}"}}
    return [orjson.dumps(first), orjson.dumps(second)]


class EveryPartition:
    """The recent event ids a worker keeps, one set per partition of `parcours.events.valid`
    (it owns them all); one batch resolved here stands for one batch of each partition."""

    def __init__(self, partitions: int) -> None:
        self.seen = [RecentIds() for _ in range(partitions)]

    def first_time(self, event_id: str) -> bool:
        return self.seen[partition_of(event_id, len(self.seen))].first_time(event_id)


def build(persons: int) -> dict[str, object]:
    cfg = IngestConfig.build(b"bench-state")
    graph, seen = IdentityGraph(identity_kinds().rules()), EveryPartition(topics().valid.partitions)
    book = SessionBook(GAP_MS, LATENESS_MS)
    profiles = ProfileStore()
    conversions = taxonomy().conversion_event_types
    gc.collect()
    pid = os.getpid()
    base, started, rejected = rss_mb(pid), time.monotonic(), 0
    now = START_MS + SPAN_MS + 3_600_000
    for first in range(0, persons, BATCH):
        events = []
        for i in range(first, min(persons, first + BATCH)):
            for raw in person_events(i, persons):
                outcome = ingest_one(raw, cfg, now)
                if isinstance(outcome, DeadLetter):
                    rejected += 1
                    continue
                events.append(outcome)
        out = sessions.apply(book, resolve(graph, seen, events).events, conversions)  # type: ignore[arg-type]
        for event in out.events:
            person = event["person_id"]
            (profiles.get(person) or profiles.setdefault(person, Profile(person))).add(event, conversions)
        profiles.settle()  # as the worker does once a batch is in the changelog
        if first % (BATCH * 40) == 0:
            print(f"  {first:>10,} persons, state +{rss_mb(pid) - base:,.0f} MB, {time.monotonic() - started:.0f}s",
                  file=sys.stderr, flush=True)
    if rejected:
        raise SystemExit(f"{rejected} generated events were rejected by ingest: fix person_events")
    gc.collect()
    added = rss_mb(pid) - base
    return {"name": "state", "persons": persons, "identifiers": len(graph), "graph_persons": graph.persons,
            "profiles": len(profiles), "open_sessions": sum(len(s) for s in book.persons.values()),
            "state_rss_mb": round(added, 1), "peak_rss_mb": round(peak_rss_mb(), 1),
            "bytes_per_person": round(added * 2**20 / max(persons, 1)),
            "seconds": round(time.monotonic() - started, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.bench_state", description=__doc__)
    parser.add_argument("--persons", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    print(orjson.dumps(build(args.persons)).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
