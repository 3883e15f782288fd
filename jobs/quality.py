"""Stitching quality against a simulation's truth: pairwise precision and recall (polars).

precision: of the pairs of events Parcours puts under one person, the share that belong to
one true person. recall: of the pairs the identifiers *allow* to join (events of one true
person connected through that person's own identifiers), the share Parcours joined. Pairs are
counted from cell sizes, n*(n-1)/2, never enumerated.

`python -m jobs.quality [--persons N] [--seed S]` simulates N persons, replays their events on
the embedded stack and prints both.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline import event_loop
from pipeline.ingest.logic import IngestConfig, ingest_one
from pipeline.settings import event_loop_of


@dataclass(frozen=True)
class Quality:
    precision: float
    recall: float
    events: int
    persons_predicted: int
    persons_true: int
    mixed_user_ids: int
    """Predicted persons holding two different user ids (must be 0)."""
    session_f1: float = float("nan")
    """Pairwise F1 of sessions against the reference: the gap rule over each true person's events."""


def pairs(frame: pl.DataFrame, *by: str) -> int:
    sizes = frame.group_by(list(by)).len()["len"]
    return int((sizes * (sizes - 1) // 2).sum())


def achievable(lines: list[bytes], person_of_event: dict[str, int], salt: bytes) -> dict[str, str]:
    """event_id -> cluster the identifiers allow: a true person's events joined through that
    person's own identifiers (union-find over (person, identifier))."""
    cfg = IngestConfig.build(salt)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for line in lines:
        event = ingest_one(line, cfg)
        if not isinstance(event, dict) or event["event_id"] not in person_of_event:
            continue
        person = person_of_event[event["event_id"]]
        nodes = [f"{person}|{k}:{v}" for k, v in event["identifiers"].items()]
        root = find(f"event|{event['event_id']}")
        for node in nodes:
            parent[find(node)] = root
    return {e: find(f"event|{e}") for e in person_of_event}


def reference_sessions(times: pl.DataFrame, gap_ms: int) -> pl.DataFrame:
    """event_id, true, occurred_at (ms) -> event_id, ref_session: maximal runs of a true
    person's events less than `gap_ms` apart."""
    return (times.sort(["true", "occurred_at", "event_id"])
            .with_columns(((pl.col("occurred_at").diff().over("true").fill_null(gap_ms) >= gap_ms)
                           .cum_sum().over("true")).alias("run"))
            .select("event_id", pl.format("{}-{}", "true", "run").alias("ref_session")))


def f1(joined: pl.DataFrame, predicted: str, reference: str) -> float:
    both = pairs(joined, predicted, reference)
    precision = both / max(pairs(joined, predicted), 1)
    recall = both / max(pairs(joined, reference), 1)
    return 2 * precision * recall / max(precision + recall, 1e-12)


def measure(predicted: pl.DataFrame, person_of_event: dict[str, int], allowed: dict[str, str],
            user_ids: pl.DataFrame, gap_ms: int = 30 * 60_000) -> Quality:
    """`predicted`: event_id, person_id, session_id, occurred_at ms (v_events).
    `user_ids`: person_id, value (v_identities)."""
    truth = pl.DataFrame({"event_id": list(person_of_event), "true": list(person_of_event.values()),
                          "allowed": [allowed[e] for e in person_of_event]})
    joined = predicted.join(truth, on="event_id", how="inner")
    mixed = user_ids.group_by("person_id").agg(pl.col("value").n_unique().alias("n")).filter(pl.col("n") > 1)
    sessions = joined.join(reference_sessions(joined.select("event_id", "true", "occurred_at"), gap_ms),
                           on="event_id")
    return Quality(
        precision=pairs(joined, "person_id", "true") / max(pairs(joined, "person_id"), 1),
        recall=pairs(joined, "person_id", "allowed") / max(pairs(joined, "allowed"), 1),
        events=joined.height,
        persons_predicted=joined["person_id"].n_unique(),
        persons_true=joined["true"].n_unique(),
        mixed_user_ids=mixed.height,
        session_f1=f1(sessions, "session_id", "ref_session"),
    )


async def replay_and_measure(persons: int, seed: int) -> Quality:
    from jobs.replay import replay
    from jobs.simulate import simulate, write_ndjson
    from pipeline.embedded.stack import Stack
    from pipeline.settings import Settings

    sim = simulate(persons=persons, seed=seed)
    with tempfile.TemporaryDirectory(prefix="parcours-quality-") as tmp:
        path = Path(tmp) / "sim.ndjson"
        write_ndjson(sim, path)
        settings = Settings.from_env({"PARCOURS_DATA_DIR": tmp})
        async with Stack(settings) as stack:
            await replay(stack, [str(path)], progress=False)
            assert stack.clickhouse is not None
            predicted = pl.from_arrow(stack.clickhouse.query_arrow(
                "SELECT event_id, person_id, session_id, toUnixTimestamp64Milli(occurred_at) AS occurred_at "
                "FROM parcours.v_events"))
            user_ids = pl.from_arrow(stack.clickhouse.query_arrow(
                "SELECT person_id, value FROM parcours.v_identities WHERE kind = 'user_id'"))
        allowed = achievable(sim.lines, sim.truth.person_of_event, settings.pii_salt)
    assert isinstance(predicted, pl.DataFrame) and isinstance(user_ids, pl.DataFrame)
    return measure(predicted, sim.truth.person_of_event, allowed, user_ids)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.quality", description=__doc__)
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    quality = event_loop.run(replay_and_measure(args.persons, args.seed), event_loop_of(os.environ))
    print(quality)
    return 0


if __name__ == "__main__":
    sys.exit(main())
