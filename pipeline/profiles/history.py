"""Profiles on a broker that keeps none (the embedded, memory-only one).

strategy: a profile lives with its person's sessions, in the sessions stage's changelog
(sessions/changelog.py), which the embedded broker loses when it stops. So a `parcours up`
after a replay, or after another `up`, answered 404 for every customer it had seen. ClickHouse
keeps the events, so before the workers start, each person's profile is computed there
(sql/profiles.sql: the same fields and caps as Profile.add) and written onto the changelog
as the record a worker would have written, with the person's sessions that the stage would
still hold at the newest recorded event (ended within gap + allowed lateness of it): a customer
active across a restart goes on in the same session. The sessions stage then restores it as
after any restart. Each
profile is also published on `parcours.profiles`, whose consumers read it as the table of
current profiles and which died with the broker too.

Only a process that serves lookups does this (`parcours up`): a replay's profiles are not
served, and a replay of a file already loaded would count its events a second time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from sys import intern
from typing import Any

from clickhouse_connect.driver.client import Client

from pipeline.kafka import flush, produce
from pipeline.profiles.state import MAX_CONVERSION_IDS, MAX_TOUCHPOINTS, MAX_VALUES_PER_KIND, Profile
from pipeline.runtime import Runtime, now_ms
from pipeline.sessions.changelog import person_record
from pipeline.sessions.state import Session
from pipeline.sink.clickhouse import lock
from pipeline.topics import partition_of

log = logging.getLogger(__name__)

SQL = Path(__file__).parent / "sql"
#: Records produced between two polls of the producer's delivery reports.
POLL_EVERY = 10_000


def recorded(client: Client, conversions: frozenset[str]) -> Iterator[Profile]:
    """Every person's profile as the recorded events make it."""
    parameters = {"conversions": sorted(conversions), "max_values": MAX_VALUES_PER_KIND,
                  "max_touchpoints": MAX_TOUCHPOINTS, "max_conversion_ids": MAX_CONVERSION_IDS}
    with lock, client.query_row_block_stream((SQL / "profiles.sql").read_text(), parameters=parameters) as blocks:
        for block in blocks:  # a server sends blocks as it computes them: memory stays bounded
            for row in block:
                yield profile_of(row)


def profile_of(row: tuple[Any, ...]) -> Profile:
    (person, identifiers, stage, stage_at, touchpoints, revenue, conversions, conversion_ids, events,
     first_seen, last_seen, currency) = row
    return Profile(
        person_id=person,
        identifiers={kind: list(values) for kind, values in identifiers or []},
        stage=intern(stage), stage_at=int(stage_at),
        last_touchpoints=[(int(at), intern(touchpoint), intern(channel)) for at, touchpoint, channel in touchpoints],
        lifetime_revenue=float(revenue), conversions=int(conversions),
        conversion_ids={event_id: float(value) for _, event_id, value in conversion_ids},
        events=int(events), first_seen=int(first_seen), last_seen=int(last_seen), currency=intern(currency))


def open_sessions(client: Client, horizon_ms: int, conversions: frozenset[str]) -> dict[str, list[Session]]:
    """person -> the recorded sessions that ended within `horizon_ms` of the newest event, as
    the sessions stage holds them (already emitted: not dirty)."""
    parameters = {"horizon_ms": horizon_ms, "conversions": sorted(conversions)}
    with lock:
        rows = client.query((SQL / "open_sessions.sql").read_text(), parameters=parameters).result_rows
    by_person: dict[str, list[Session]] = {}
    for (session_id, person, started, ended, channels, entry, exit_, revenue, converted, count, ids, added,
         entry_event, exit_event, absorbed) in rows:
        by_person.setdefault(person, []).append(Session(
            session_id, person, int(started), int(ended), int(count), list(channels), entry, exit_,
            float(revenue), bool(converted), absorbed=list(absorbed),
            event_ids=dict(zip(ids, map(float, added), strict=True)),
            dirty=False, entry_event=entry_event, exit_event=exit_event))
    return by_person


def replay_profiles(rt: Runtime, client: Client) -> int:
    """Write every recorded person's profile, with the sessions still open at the newest event,
    onto the (empty) sessions changelog; returns how many."""
    topic, partitions = rt.topics.sessions_changelog.name, rt.topics.by_person.partitions
    log.info("profiles: computing every person's profile from the events in ClickHouse "
             "(the embedded broker kept none; ~1.5 s per 100 000 events)")
    count, at = 0, now_ms()
    horizon_ms = int((rt.settings.session_gap_s + rt.settings.allowed_lateness_s) * 1000)
    sessions = open_sessions(client, horizon_ms, rt.taxonomy.conversion_event_types)
    log.info("profiles: %d persons' sessions still open at the newest recorded event are restored with them",
             len(sessions))
    for profile in recorded(client, rt.taxonomy.conversion_event_types):
        produce(rt.producer, topic, person_record(sessions.pop(profile.person_id, []), profile.fields()),
                partition=partition_of(profile.person_id, partitions), key=profile.person_id.encode())
        # the (compacted) profiles topic is a table of current profiles for its consumers: it
        # died with the broker too
        rt.send_profile(profile.person_id, profile.document(None, at))
        count += 1
        if count % POLL_EVERY == 0:
            rt.producer.poll(0)
    flush(rt.producer)
    if count:
        log.info("profiles: %d persons' profiles computed from the events in ClickHouse put back on %s",
                 count, topic)
    return count
