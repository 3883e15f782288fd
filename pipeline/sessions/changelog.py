"""The sessions stage's changelog: its state survives a crash and follows a partition to
whichever worker takes it over.

strategy: one compacted topic, one partition per `by_person` partition. After each batch the
agent first waits until the batch's outputs (fact rows, hand-overs, profiles) are acknowledged,
then writes one record per session that changed (or a tombstone when it left the partition:
merged away, evicted, handed over, erased), one per person whose profile changed, one per new
forward (`f:<merged person>`), and a `__meta__` record with the watermark and the input
offset the state now includes (`through`). Records are per session, not per person: a person
keeps every session of the allowed lateness in memory, and re-encoding all of them whenever
one changed cost more than the rest of the stage's output.
On (re)start the partition is read back to its end before the first message is handled, and
input at or below `through` is skipped: it is already in the state and its outputs were sent.
Faust commits input offsets only after a batch is handled, so the committed offset never runs
ahead of `through`; a crash between the two re-delivers input the state has seen, which the
skip covers, and the event ids kept in each session catch re-sent duplicates from upstream.

  record shape: key s:<session id> -> Session fields (its person_id says whose)
                key p:<person>     -> Profile fields
                key f:<person>     -> {"to": person}
                key __meta__       -> {"through": offset, "watermark": ms}
  Records of the older per-person format (key = person id -> {"s": [...], "p": ...}) are
  still read, and replaced by the new records at the next write.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import TopicPartition
from confluent_kafka import Producer

from pipeline.kafka import consumer, produce
from pipeline.profiles.state import Profile
from pipeline.sessions.state import Session, SessionBook

log = logging.getLogger(__name__)

META = "__meta__"
SESSION = "s:"
PROFILE = "p:"
FORWARD = "f:"


@dataclass
class Restored:
    book: SessionBook
    profiles: dict[str, Profile] = field(default_factory=dict)
    through: int = -1
    """Highest input offset of `by_person` the state includes (-1: none)."""


def write(producer: Producer, topic: str, partition: int, book: SessionBook,
          profiles: dict[str, Profile], through: int) -> int:
    """Produce the records of what changed since the last write; returns how many."""
    records: list[tuple[str, bytes | None]] = []
    for session_id, session in book.changed_sessions.items():
        # the last change of an id wins: a merge touches its survivor after dropping the
        # others, so a dead copy of a live session (a hand-over sent twice) never hides it
        records.append((SESSION + session_id, orjson.dumps(session) if session.alive else None))
    for person in book.changed:
        profile = profiles.get(person)
        records.append((PROFILE + person, None if profile is None else orjson.dumps(profile)))
    records += [(key, None) for key in book.legacy_keys]
    records += [(FORWARD + person, orjson.dumps({"to": book.forward[person]})) for person in book.forwarded]
    records.append((META, orjson.dumps({"through": through, "watermark": book.watermark})))
    for key, value in records:
        produce(producer, topic, value, partition=partition, key=key.encode())  # type: ignore[arg-type]
    book.changed.clear()
    book.changed_sessions.clear()
    book.legacy_keys.clear()
    book.forwarded.clear()
    return len(records)


async def restore(bootstrap: str, topic: str, partition: int, empty: SessionBook, now: float) -> Restored:
    """Read the partition to its end; the latest record per key is the state."""
    state = rebuild(await read_all(bootstrap, topic, partition), empty, now)
    log.info("sessions partition %d restored: %d persons, %d profiles, through offset %d",
             partition, len(state.book.persons), len(state.profiles), state.through)
    return state


def rebuild(latest: dict[str, bytes | None], empty: SessionBook, now: float) -> Restored:
    """The state from the latest record of each key (what compaction keeps)."""
    state = Restored(empty)
    book = state.book
    book.now = now
    held: dict[str, list[Session]] = {}
    for key, value in latest.items():
        if value is None:
            continue
        data: dict[str, Any] = orjson.loads(value)
        if key == META:
            state.through, book.watermark = int(data["through"]), int(data["watermark"])
        elif key.startswith(FORWARD):
            book.forward[key[len(FORWARD):]] = data["to"]
        elif key.startswith(SESSION):
            session = Session.from_wire(data)
            held.setdefault(session.person_id, []).append(session)
        elif key.startswith(PROFILE):
            state.profiles[key[len(PROFILE):]] = Profile.from_wire(data)
        else:  # the older per-person format: rewritten in the new one at the next write
            sessions = [Session.from_wire(s) for s in data["s"]]
            held.setdefault(key, []).extend(sessions)
            if data["p"] is not None:
                state.profiles[key] = Profile.from_wire(data["p"])
            book.legacy_keys.add(key)
    for person, sessions in held.items():
        book.persons[person] = sorted(sessions, key=lambda s: s.start)
        for session in sessions:
            session.touched_at, session.alive = now, True  # held in memory as if just changed
            if session.dirty:
                book.touched(session)
            else:
                book.emitted(session)
    legacy = book.legacy_keys
    book.changed_sessions = {s.session_id: s for p in held for s in book.persons[p]} if legacy else {}
    book.changed = set(legacy)
    return state


async def read_all(bootstrap: str, topic: str, partition: int) -> dict[str, bytes | None]:
    cons = consumer(bootstrap, None)
    await cons.start()
    try:
        tp = TopicPartition(topic, partition)
        cons.assign([tp], from_beginning=True)
        end = (await cons.end_offsets([tp]))[tp]
        latest: dict[str, bytes | None] = {}
        while await cons.position(tp) < end:
            for records in (await cons.getmany(timeout_ms=200, max_records=50_000)).values():
                for record in records:
                    latest[(record.key or b"").decode()] = record.value
        return latest
    finally:
        await cons.stop()
