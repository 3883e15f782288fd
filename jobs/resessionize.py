"""Re-sessionize the history of merged persons (polars): `parcours resessionize [--all]`.

strategy: the streaming stage cuts sessions with what it knows at the time; when two persons
merge later, their open sessions merge too, but sessions already closed stay apart, and a
split (a shared device found late) can leave one session holding two persons' events. This
job recomputes sessions from v_events with the same gap rule (maximal runs of a person's
events less than the gap apart), after giving each event on a shared identifier to the login
around it in event time (jobs/taps.py), then writes
  - event_sessions: event -> new session (wins over the streaming session in the views),
  - sessions: the new sessions' rows, and zero-event rows retiring the sessions they replace.
Which persons: all, or those merged, those whose taps changed hands, those whose sessions are
not the gap rule's (a late event of this run next to a session of an earlier one), those with
a session row its events disagree with (a later replay re-sent part of the session), those with
events in a session whose row names another person (split off after their sessions merged), those
holding an event whose earlier version a re-send superseded (another day or event_type: v_events
has the latest version only, 0023; the earlier version's session is retired too), and, until
nothing changes, every person that shares a session with them: a session is retired only when all
its events are recomputed, so no event is left pointing at a retired session.
Session ids are a hash of (person, first event id) in a namespace of their own ("r|"): they
never collide with a streaming session id that session_merges may have retired; one that a live
merge retired (a re-cut session `up` restored) is derived again. Re-running the job changes nothing.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import polars as pl
from clickhouse_connect.driver.client import Client

from jobs.taps import attribute_taps
from pipeline.facts.tables import to_arrow
from pipeline.taxonomy import identity_kinds, taxonomy

SQL = Path(__file__).parent / "sql" / "resessionize"
_EPOCH, _DAY_MS = date(1970, 1, 1), 86_400_000


@dataclass(frozen=True)
class Result:
    persons: int
    events: int
    sessions_before: int
    sessions_after: int
    days: frozenset[date] = frozenset()
    """Days (UTC) of the re-cut events and of the versions they superseded: the KPI rollup's rows
    to restate (jobs/rollup.py)."""


def runs(events: pl.DataFrame, gap_ms: int) -> pl.DataFrame:
    """events (event_id, person_id, occurred_at ms, ...) in event time per person, numbered by
    `run`: the gap rule's sessions."""
    ordered = events.sort(["person_id", "occurred_at", "event_id"])
    run = (pl.col("occurred_at").diff().over("person_id").fill_null(gap_ms) >= gap_ms).cum_sum().over("person_id")
    return ordered.with_columns(run.alias("run"))


def disagreeing(numbered: pl.DataFrame) -> set[str]:
    """Persons whose sessions are not the gap rule's runs: a late event that belongs to a session
    an earlier run wrote (a replay starts the embedded broker, so the sessions stage, empty),
    or a session a re-run replay cut under a new id for part of its events."""
    pairs = numbered.select("person_id", "session_id", "run").unique()
    split = (pl.len().over("person_id", "run") > 1) | (pl.len().over("session_id") > 1)
    return set(pairs.filter(split)["person_id"])


def stale(events: pl.DataFrame, conversions: frozenset[str]) -> set[str]:
    """Persons with a session row its events disagree with (count, first or last time, revenue):
    a later replay that re-sends some of a session's events starts with an empty sessions stage,
    so it writes that session again, newer, from the re-sent events alone."""
    revenue = pl.col("revenue").filter(pl.col("event_type").is_in(list(conversions))).sum()
    written = pl.col("session_revenue").first()
    rows = events.filter(pl.col("session_id") != "").group_by("session_id").agg(
        pl.col("person_id").unique().alias("persons"),
        ((pl.len() != pl.col("session_events").first())
         | (pl.col("occurred_at").min() != pl.col("session_started").first())
         | (pl.col("occurred_at").max() != pl.col("session_ended").first())
         | ((revenue - written).abs() > 1e-9 * pl.max_horizontal(written.abs(), pl.lit(1.0)))).alias("stale"))
    return set(rows.filter("stale")["persons"].explode())


def sessionize(events: pl.DataFrame, gap_ms: int, conversions: frozenset[str]) -> pl.DataFrame:
    """events (event_id, person_id, occurred_at ms, ...) -> the same with `new_session`."""
    ordered = runs(events, gap_ms)
    first = ordered.group_by("person_id", "run").agg(pl.col("event_id").first().alias("first_event"))
    ids = first.with_columns(pl.struct("person_id", "first_event").map_elements(
        lambda r: hashlib.blake2b(f"r|{r['person_id']}|{r['first_event']}".encode(), digest_size=8).hexdigest(),
        return_dtype=pl.String).alias("new_session"))
    return ordered.join(ids.select("person_id", "run", "new_session"), on=["person_id", "run"])


def unretired(client: Client, assigned: pl.DataFrame) -> pl.DataFrame:
    """`assigned` with each new session id that session_merges retired (a re-cut session `up`
    restored, merged away live) derived again from itself, until none is: the same state
    gives the same ids, so re-running the job still changes nothing."""
    while retired := set(_frame(client, (SQL / "merged_away.sql").read_text(),
                                {"ids": assigned["new_session"].unique().to_list()})["from_session"]):
        again = pl.col("new_session").map_elements(
            lambda s: hashlib.blake2b(f"r|{s}".encode(), digest_size=8).hexdigest(), return_dtype=pl.String)
        assigned = assigned.with_columns(
            pl.when(pl.col("new_session").is_in(list(retired))).then(again).otherwise(pl.col("new_session"))
            .alias("new_session"))
    return assigned


def session_rows(assigned: pl.DataFrame, conversions: frozenset[str], version: int) -> pl.DataFrame:
    converting = pl.col("event_type").is_in(list(conversions))
    in_time = ["occurred_at", "event_id"]
    return assigned.group_by("new_session").agg(
        pl.col("person_id").first(),
        pl.col("occurred_at").min().alias("started_at"),
        pl.col("occurred_at").max().alias("ended_at"),
        pl.len().cast(pl.UInt32).alias("event_count"),
        pl.col("channel").sort_by(in_time).unique(maintain_order=True).alias("channels"),
        pl.col("touchpoint").sort_by(in_time).first().alias("entry_touchpoint"),
        pl.col("touchpoint").sort_by(in_time).last().alias("exit_touchpoint"),
        converting.any().cast(pl.UInt8).alias("converted"),
        pl.col("revenue").filter(converting).sum().alias("revenue"),
    ).rename({"new_session": "session_id"}).with_columns(pl.lit(version, pl.UInt64).alias("version"))


def run(client: Client, gap_s: float, everyone: bool = False) -> Result:
    ranks = identity_kinds().ranks
    frame = _frame(client, (SQL / "events.sql").read_text(), {"kinds": sorted(ranks, key=ranks.__getitem__)})
    if frame.is_empty():
        return Result(0, 0, 0, 0)
    gap_ms = int(gap_s * 1000)
    frame = frame.with_columns(pl.col("person_id").alias("was_person"))  # before taps move
    frame = attribute_taps(frame, _frame(client, (SQL / "shared_keys.sql").read_text()), gap_ms)
    superseded = _frame(client, (SQL / "superseded.sql").read_text())
    superseded_sessions = set(superseded["session_id"])
    if not everyone:
        merged = _frame(client, (SQL / "merged.sql").read_text())["to_person"]
        # taps given to a login, events re-anchored to an identifier of their own, and events
        # in a session whose row names another person (a person split off after a merge)
        moved = frame.filter((pl.col("person_id") != pl.col("was_person"))
                             | (pl.col("person_id") != pl.col("view_person"))
                             | (pl.col("view_person") != pl.col("session_person")))
        resent = frame.filter(pl.col("event_id").is_in(superseded["event_id"].to_list()))
        frame = affected(frame, set(merged) | set(moved["person_id"]) | set(moved["was_person"])
                         | set(moved["view_person"]) | disagreeing(runs(frame, gap_ms))
                         | stale(frame, taxonomy().conversion_event_types)
                         | set(resent["person_id"]) | set(resent["was_person"]), superseded_sessions)
        if frame.is_empty():
            return Result(0, 0, 0, 0)
    conversions = taxonomy().conversion_event_types
    assigned = unretired(client, sessionize(frame, gap_ms, conversions))
    version = time.time_ns()
    fresh = session_rows(assigned, conversions, version)
    retired = (set(frame["session_id"].unique()) | superseded_sessions) - set(fresh["session_id"])
    client.insert_arrow("parcours.event_sessions", assigned.select(
        "event_id", pl.col("new_session").alias("session_id"), pl.lit(version, pl.UInt64).alias("version")).to_arrow())
    rows = fresh.to_dicts() + [_retired(s, version) for s in sorted(retired)]
    client.insert_arrow("parcours.sessions", to_arrow("sessions", rows))
    days = frozenset(_EPOCH + timedelta(days=d) for d in (frame["occurred_at"] // _DAY_MS).unique()) \
        | frozenset(superseded["day"])
    return Result(frame["person_id"].n_unique(), frame.height, frame["session_id"].n_unique(), fresh.height, days)


def affected(frame: pl.DataFrame, persons: set[str], sessions: Collection[str] = ()) -> pl.DataFrame:
    """The events of `persons` (before or after taps moved) and of `sessions` (to be retired),
    grown until closed: every event of a session they touch, and the persons of those events."""
    while True:
        mine = pl.col("person_id").is_in(list(persons)) | pl.col("was_person").is_in(list(persons))
        touched = set(frame.filter(mine)["session_id"]) | set(sessions)
        chosen = frame.filter(mine | pl.col("session_id").is_in(list(touched)))
        grown = persons | set(chosen["person_id"]) | set(chosen["was_person"])
        if grown == persons:
            return chosen
        persons = grown


def _frame(client: Client, sql: str, parameters: dict[str, object] | None = None) -> pl.DataFrame:
    frame = pl.from_arrow(client.query_arrow(sql, parameters=parameters))
    assert isinstance(frame, pl.DataFrame)
    return frame


def _retired(session_id: str, version: int) -> dict[str, object]:
    return {"session_id": session_id, "person_id": "", "started_at": 0, "ended_at": 0, "event_count": 0,
            "channels": [], "entry_touchpoint": "", "exit_touchpoint": "", "converted": 0, "revenue": 0.0,
            "version": version}
