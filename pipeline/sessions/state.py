"""Session state of one partition: each person's recent sessions, ordered by start."""

from __future__ import annotations

import heapq
import itertools
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Session:
    session_id: str
    person_id: str
    start: int
    """Event time of the first event, epoch ms."""
    end: int
    """Event time of the last event, epoch ms."""
    event_count: int = 0
    channels: list[str] = field(default_factory=list)
    """The entry channel (of the earliest event) first, even when that event arrived late, so
    `channels[1]` in ClickHouse is where the session began; the others in order of arrival."""
    entry_touchpoint: str = ""
    exit_touchpoint: str = ""
    revenue: float = 0.0
    converted: bool = False
    absorbed: list[str] = field(default_factory=list)
    """Ids of sessions merged into this one (all remapped whenever this one is absorbed)."""
    event_ids: dict[str, float] = field(default_factory=dict)
    """Its events (id -> revenue it added): an event delivered again after a worker restarted
    mid-batch is recognised, and one that reached two persons' sessions before they merged
    is counted once in the merged session."""
    dirty: bool = True
    """Changed since its row was last emitted."""
    alive: bool = True
    """Still held by the book (not merged away, evicted or handed over)."""
    touched_at: float = 0.0
    """Wall clock (monotonic s) of the last change: eviction also waits `hold_s` after it."""
    entry_event: str = ""
    exit_event: str = ""
    """The ids of the events the entry and exit touchpoints come from: events at the same
    millisecond are ordered by id, as in the views and the batch re-sessionization, so the
    entry does not depend on which of them arrived first."""

    @property
    def order(self) -> str:
        """Merge survivor order: the earliest session wins, ties by id."""
        return f"{self.start:015d}:{self.session_id}"

    def to_wire(self) -> tuple[Any, ...]:
        """The fields in WIRE_FIELDS order (changelog records, hand-overs): a third of the bytes
        of an object, and orjson writes a tuple ~4x faster than the slotted dataclass."""
        return (self.session_id, self.person_id, self.start, self.end, self.event_count, self.channels,
                self.entry_touchpoint, self.exit_touchpoint, self.revenue, self.converted, self.absorbed,
                self.event_ids, self.dirty, self.entry_event, self.exit_event)

    @classmethod
    def from_wire(cls, data: list[Any] | dict[str, Any]) -> Session:
        """From `to_wire`'s array, or the object that changelogs and workers before it wrote."""
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if k in WIRE_FIELDS}
            return cls(**data)
        # Positional up to `dirty` (alive and touched_at follow it in the class); the arrays of
        # workers before entry_event/exit_event end there.
        head, tail = data[:_DIRTY + 1], data[_DIRTY + 1:]
        return cls(*head, **dict(zip(WIRE_FIELDS[_DIRTY + 1:], tail, strict=False)))


#: The fields a session's wire array carries, in order (alive and touched_at are this worker's).
WIRE_FIELDS = ("session_id", "person_id", "start", "end", "event_count", "channels", "entry_touchpoint",
               "exit_touchpoint", "revenue", "converted", "absorbed", "event_ids", "dirty", "entry_event",
               "exit_event")
_DIRTY = WIRE_FIELDS.index("dirty")


@dataclass(slots=True)
class SessionBook:
    """All sessions a partition holds, plus where merged persons went."""

    gap_ms: int
    lateness_ms: int
    hold_s: float = 0.0
    """Wall-clock seconds a session stays in memory after its last change, whatever the
    watermarks say: a replayed history file need not be in event-time order, and events that
    take an extra hop (to the partition of the person they were merged into, in a hand-over)
    arrive after the watermark that came with them."""
    settle_s: float = 0.0
    """Wall-clock seconds a closed session must stay untouched before its row is emitted. In a
    bulk replay the watermark runs ahead of slower upstream partitions, so a session closes
    and re-opens over and over; without this its row went out about once per event (112 k
    session rows for 113 k events in `make bench`)."""
    now: float = 0.0
    """Wall clock (monotonic s) of the batch being applied."""
    watermark: int = 0
    """Highest event time seen on this partition, epoch ms: it closes sessions (their rows
    settle, and a late event re-opens one)."""
    low_watermark: int | None = None
    """How far every upstream partition has come (pipeline/watermark.py), epoch ms; sessions
    are forgotten only past it, so a fast upstream partition does not drop sessions a slow
    one still delivers events to. None: not tracked (the pure tests, a probe), `watermark`
    stands in."""
    persons: dict[str, list[Session]] = field(default_factory=dict)
    forward: dict[str, str] = field(default_factory=dict)
    """Merged person id -> the person it was merged into."""
    due: list[tuple[int, int, Session]] = field(default_factory=list)
    """Min-heap of (end, seq, session) for changed sessions: the watermark pops closed ones
    without scanning every person. Stale entries are skipped when popped."""
    settling: list[tuple[float, int, Session]] = field(default_factory=list)
    """Min-heap of (touched_at, seq, session) for closed sessions waiting `settle_s`."""
    done: list[tuple[int, int, Session]] = field(default_factory=list)
    """Min-heap of (end, seq, session) for emitted sessions, to evict past the lateness."""
    holding: list[tuple[float, int, Session, int]] = field(default_factory=list)
    """Min-heap of (touched_at, seq, session, end) for sessions past the lateness but within
    `hold_s` of their last change: one held session does not keep those behind it in `done`."""
    changed: set[str] = field(default_factory=set)
    """Persons whose sessions changed since the changelog was last written (sessions/changelog.py)."""
    forwarded: set[str] = field(default_factory=set)
    """Entries of `forward` added since the changelog was last written."""
    recent: OrderedDict[int, Session] = field(default_factory=OrderedDict)
    """The changed sessions (by `id`), least recently changed first: live mode finds the idle
    ones at the front (logic.close_idle) instead of scanning every session every few seconds
    (63 ms per million, a stall of the whole worker)."""
    _seq: itertools.count[int] = field(default_factory=itertools.count)

    def touched(self, session: Session) -> None:
        self.changed.add(session.person_id)
        session.dirty = True
        session.touched_at = self.now
        heapq.heappush(self.due, (session.end, next(self._seq), session))
        key = id(session)
        if key in self.recent:
            self.recent.move_to_end(key)
        else:
            self.recent[key] = session

    def emitted(self, session: Session) -> None:
        session.dirty = False
        self.recent.pop(id(session), None)
        heapq.heappush(self.done, (session.end, next(self._seq), session))

    def dropped(self, session: Session) -> None:
        """The session leaves the book (merged away, evicted, handed over, forgotten); its
        entries in the heaps are skipped when popped."""
        session.alive = False
        self.recent.pop(id(session), None)

    def resolve(self, person_id: str) -> str:
        seen = 0
        while person_id in self.forward and seen < 64:
            person_id = self.forward[person_id]
            seen += 1
        return person_id
