"""The sessions stage's changelog: its state survives a crash and follows a partition to
whichever worker takes it over.

strategy: one compacted topic, one partition per `by_person` partition. After each batch the
agent first waits until the batch's outputs (fact rows, hand-overs, profiles) are acknowledged,
then writes one record per person whose state changed (key = person id, value = sessions +
profile, or a tombstone when nothing is left), one per new or released forward (`f:<merged
person>`, a tombstone once released), and a
`__meta__` record with the watermark and the input offset the state now includes (`through`).
On (re)start the partition is read back to its end before the first message is handled, and
input at or below `through` is skipped: it is already in the state and its outputs were sent.
Faust commits input offsets only after a batch is handled, so the committed offset never runs
ahead of `through`; a crash between the two re-delivers input the state has seen, which the
skip covers, and the event ids kept in each session catch re-sent duplicates from upstream.

  record shape: key person_id -> {"s": [Session.to_wire array, ...], "p": Profile.fields array | null}
                (records written before 2026-12-07 hold objects in both places: still read)
                key f:<person> -> {"to": person}
                key __meta__   -> {"through": offset, "watermark": ms}
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
from pipeline.profiles.store import ProfileStore
from pipeline.sessions.state import Session, SessionBook

log = logging.getLogger(__name__)

META = "__meta__"
FORWARD = "f:"


@dataclass
class Restored:
    book: SessionBook
    profiles: ProfileStore = field(default_factory=ProfileStore)
    through: int = -1
    """Highest input offset of `by_person` the state includes (-1: none)."""


def write(producer: Producer, topic: str, partition: int, book: SessionBook,
          profiles: ProfileStore, through: int) -> int:
    """Produce the records of what changed since the last write; returns how many."""
    count = 0
    for person in book.changed:
        sessions = book.persons.get(person) or []
        profile = profiles.fields(person)
        value = None if not sessions and profile is None else person_record(sessions, profile)
        produce(producer, topic, value, partition=partition, key=person.encode())  # type: ignore[arg-type]
        count += 1
    for person in book.forwarded:  # a released forward (logic.release_person): its tombstone
        to = book.forward.get(person)
        produce(producer, topic, None if to is None else orjson.dumps({"to": to}),  # type: ignore[arg-type]
                partition=partition, key=(FORWARD + person).encode())
        count += 1
    meta = {"through": through, "watermark": book.watermark}
    produce(producer, topic, orjson.dumps(meta), partition=partition, key=META.encode())
    book.changed.clear()
    book.forwarded.clear()
    return count + 1


def person_record(sessions: list[Session], profile: list[Any] | orjson.Fragment | None) -> bytes:
    """The value of a person's record: its sessions and its profile (`Profile.fields`, or a
    packed profile as it is). Arrays, not objects: 3x faster to write (5.9 -> 1.9 µs a record)."""
    return orjson.dumps({"s": [s.to_wire() for s in sessions], "p": profile})


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
    for key, value in latest.items():
        if value is None:
            continue
        data: dict[str, Any] = orjson.loads(value)
        if key == META:
            state.through, book.watermark = int(data["through"]), int(data["watermark"])
        elif key.startswith(FORWARD):
            book.forward[key[len(FORWARD):]] = data["to"]
        else:
            sessions = [Session.from_wire(s) for s in data["s"]]
            if sessions:
                book.persons[key] = sessions
            for session in sessions:
                session.touched_at = now  # held in memory as if just changed
                if session.dirty:
                    book.touched(session)
                else:
                    book.emitted(session)
            if data["p"] is not None:
                state.profiles[key] = Profile.from_wire(key, data["p"])
    book.changed.clear()
    # Records rebuilt from ClickHouse (profiles/history.py) carry no `__meta__`: the event time
    # the partition had reached is then at least its newest session's end, not 0 (which made
    # every restored session look open).
    book.watermark = max(book.watermark, max((s.end for held in book.persons.values() for s in held), default=0))
    state.profiles.settle()
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
