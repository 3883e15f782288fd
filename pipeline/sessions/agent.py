"""Thin Faust agent around sessionization: events of a person partition -> fact rows.

Topic `parcours.events.by_person` is partitioned by person_id and also carries merge notices
(a person was merged: move its sessions) and hand-overs (sessions arriving from the partition
of a merged person). State: one SessionBook and the profiles per partition, in memory, backed
by the compacted changelog `parcours.sessions.changelog` (changelog.py): read back before a
partition's first batch in this process, written after every batch. Open sessions are flushed
at every end-of-input barrier and on shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import faust
from faust.types import TP, EventT

from pipeline import codec
from pipeline.barrier import BarrierTracker
from pipeline.facts.rows import session_merge_row, session_row
from pipeline.identity.agent import TAKE, TAKE_WITHIN_S
from pipeline.kafka import flush
from pipeline.profiles.state import Profile, merge_notice, split_notice
from pipeline.profiles.store import ProfileStore
from pipeline.runtime import Runtime, now_ms
from pipeline.sessions import changelog, logic
from pipeline.sessions.state import Session, SessionBook
from pipeline.topics import partition_of
from pipeline.watermark import LowWatermark

log = logging.getLogger(__name__)

#: Wall-clock seconds a changed session is kept in memory past its event-time eviction
#: (SessionBook.hold_s): a replayed history file need not be in event-time order.
HOLD_S = 120.0
#: Wall-clock seconds a closed session stays untouched before its row is emitted (SessionBook).
SETTLE_S = 1.0
#: How often (wall-clock seconds) settled sessions, and sessions idle for a whole gap, are
#: emitted when no batch arrives (live mode).
IDLE_CHECK_S = 2.0


class Sessionizer:
    """Per-partition books and the routing between partitions."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        gap_ms = int(rt.settings.session_gap_s * 1000)
        lateness_ms = int(rt.settings.allowed_lateness_s * 1000)
        self.books: dict[int, SessionBook] = defaultdict(
            lambda: SessionBook(gap_ms, lateness_ms, hold_s=HOLD_S, settle_s=SETTLE_S))
        self.upstream: dict[int, BarrierTracker] = defaultdict(
            lambda: BarrierTracker(rt.topics.valid.partitions))
        self.peers: dict[int, BarrierTracker] = defaultdict(
            lambda: BarrierTracker(rt.topics.by_person.partitions))
        self.progress: dict[int, LowWatermark] = {}
        """Per partition: how far each valid partition has come (pipeline/watermark.py)."""
        self.profiles: dict[int, ProfileStore] = defaultdict(ProfileStore)
        self.unpublished: dict[int, set[str]] = defaultdict(set)
        """Per partition: persons whose profile changed in the batch being handled; each gets
        one update when the batch is done (contract: at most once per person per batch)."""
        self.through: dict[int, int] = {}
        """Per partition: the highest by_person offset in the state; None until restored."""
        self._restoring: dict[int, asyncio.Task[None]] = {}
        self._revocations: dict[int, int] = defaultdict(int)
        """Per partition: how many times it was revoked; a restore that began before the last
        revocation is dropped (it read a state the new owner has since changed)."""

    async def ensure_restored(self, partition: int) -> None:
        """Restore the partition's state once, whoever asks first: the agent before its first
        batch, an HTTP lookup, or the restore started when the partition was assigned (a
        worker that takes no input after a restart still answers lookups)."""
        while partition not in self.through:  # again if it was revoked while it was read
            task = self._restoring.get(partition)
            if task is None:
                task = self._restoring[partition] = asyncio.ensure_future(self.restore(partition))
                task.add_done_callback(lambda done: self._restoring.pop(partition, None)
                                       if self._restoring.get(partition) is done else None)
            await asyncio.shield(task)

    async def restore(self, partition: int) -> None:
        """Take the partition's state from its changelog (a fresh or a taken-over partition)."""
        topic = self.rt.topics.sessions_changelog.name
        revoked = self._revocations[partition]
        state = await changelog.restore(self.rt.bootstrap, topic, partition,
                                        self.books.default_factory(), time.monotonic())  # type: ignore[misc]
        if self._revocations[partition] != revoked:
            log.info("sessions partition %d was revoked while it was restored: state dropped", partition)
            return
        self.books[partition], self.profiles[partition] = state.book, state.profiles
        self.through[partition] = state.through

    def revoke(self, partitions: set[int]) -> None:
        """Partitions given to another worker: their state is re-read if they come back."""
        for partition in partitions:
            self._revocations[partition] += 1
            self.books.pop(partition, None)
            self.progress.pop(partition, None)
            self.unpublished.pop(partition, None)
            self.profiles.pop(partition, None)
            self.through.pop(partition, None)

    def handle_batch(self, partition: int, messages: list[tuple[int, dict[str, Any]]]) -> bool:
        """Handle the messages past the state's offset; True if there were any."""
        if partition not in self.through:
            return False  # revoked during a rebalance; Faust re-delivers it to the new owner
        # Barriers are handled again: which upstream partitions have passed one is not part
        # of the changelog, and arriving twice is a no-op.
        fresh = [m for offset, m in messages if offset > self.through[partition] or m["t"] == "barrier"]
        if fresh:
            self.handle_all(partition, fresh)
            self.through[partition] = max(self.through[partition], messages[-1][0])
        return bool(fresh)

    def write_changelog(self, partition: int) -> None:
        if partition not in self.through:
            return  # revoked while the batch's outputs were flushed: the new owner re-reads
        topic = self.rt.topics.sessions_changelog.name
        touched = list(self.books[partition].changed)  # `write` clears it
        self.rt.stats.changelog_records += changelog.write(
            self.rt.producer, topic, partition, self.books[partition], self.profiles[partition],
            self.through[partition])
        self.profiles[partition].settle(touched)  # the batch's profiles are in the changelog

    def handle_all(self, partition: int, messages: list[dict[str, Any]]) -> None:
        """Consecutive events messages are applied as one batch; the rest in order."""
        pending: list[dict[str, Any]] = []
        now = time.monotonic()
        progress = self.progress.get(partition) or self.progress.setdefault(
            partition, LowWatermark(self.rt.topics.valid.partitions, now))
        for message in messages:
            if message["t"] == "events":
                pending += message["events"]
                if "o" in message:
                    progress.report(message["o"], message["wm"], now)
                continue
            if pending:
                self.on_events(partition, pending)
                pending = []
            self.handle(partition, message)
        if pending:
            self.on_events(partition, pending)
        self.publish_profiles(partition, self.unpublished.pop(partition, set()))

    def handle(self, partition: int, message: dict[str, Any]) -> None:
        """One message other than events (handle_all batches those)."""
        kind = message["t"]
        if kind == "merge":
            self.on_merge(partition, message["remaps"])
        elif kind == "handovers":
            out = logic.Output()
            onward: dict[int, list[bytes]] = defaultdict(list)
            for handover in message["handovers"]:  # their rows as one message per table
                received = self.receive(partition, handover, onward)
                out.events += received.events
                out.sessions += received.sessions
                out.remaps += received.remaps
            self.emit(partition, out)
            self.send_handovers(onward)
        elif kind == "handover":  # one person, as workers before 2026-12-07 sent them
            onward = defaultdict(list)
            self.emit(partition, self.receive(partition, message, onward))
            self.send_handovers(onward)
        elif kind == "barrier":
            self.on_barrier(partition, message)
        elif kind == "forget":
            self.forget_person(partition, message["person"])
        elif kind == "refresh":  # an identifier of theirs was found shared: publish without it
            for person in map(self.books[partition].resolve, message["persons"]):
                if person in self.profiles[partition]:
                    self.unpublished[partition].add(person)

    def on_events(self, partition: int, events: list[dict[str, Any]]) -> None:
        book = self.books[partition]
        local, moved = [], []
        for event in events:
            person = book.resolve(event["person_id"])
            event["person_id"] = person
            (local if self.owner(person) == partition else moved).append(event)
        if moved:  # the person was merged into one owned elsewhere: follow it
            self.rt.send_by_person(moved)
        conversions = self.rt.taxonomy.conversion_event_types
        now = time.monotonic()
        progress = self.progress.get(partition)
        book.low_watermark = progress.low(now) if progress is not None and progress.reported else None
        out = logic.apply(book, local, conversions, now)
        self.rt.stats.sessionized += len(out.events)
        self.rt.stats.duplicates += out.duplicates
        self.emit(partition, out)
        profiles = self.profiles[partition]
        for event in out.events:
            person = event["person_id"]
            profile = profiles.get(person) or profiles.setdefault(person, Profile(person))
            profile.add(event, conversions)
        self.unpublished[partition].update(e["person_id"] for e in out.events)

    def on_merge(self, partition: int, remaps: list[list[str]]) -> None:
        book = self.books[partition]
        # Hand-overs per owning partition, in remap order, sent as few messages, not one per
        # person: a batch of merges hands thousands of persons over, and every message is a
        # Faust event that fills the receiver's takes (each take waits for acks twice).
        handovers: dict[int, list[bytes]] = defaultdict(list)
        for from_person, to_person in remaps:
            if from_person == to_person:  # split off the person it was merged into
                was = logic.release_person(book, from_person)
                if was is not None:
                    self.publish(from_person, split_notice(from_person, was, now_ms()))
                continue
            sessions = logic.take_person(book, from_person, to_person)
            profile = self.profiles[partition].pop(from_person, None)
            target = book.resolve(to_person)
            book.changed.add(target)
            if not sessions and profile is None:
                continue
            self.publish(from_person, merge_notice(from_person, target, now_ms()))
            owner = self.owner(target)
            if owner == partition:
                self.emit(partition, logic.receive_sessions(book, target, sessions))
                if profile is not None:
                    self.absorb_profile(partition, target, profile)
            else:
                handovers[owner].append(codec.encode({
                    "person": target, "sessions": [s.to_wire() for s in sessions],
                    "profile": profile.fields() if profile else None}))
        self.send_handovers(handovers)

    def send_handovers(self, handovers: dict[int, list[bytes]]) -> None:
        """Encoded hand-overs per owning partition, as few messages as fit."""
        for owner, items in handovers.items():
            for message in codec.handovers(items):
                self.rt.send(self.rt.topics.by_person.name, message, owner)

    def receive(self, partition: int, handover: dict[str, Any], onward: dict[int, list[bytes]]) -> logic.Output:
        """A merged person's sessions and profile, from the partition that owned them; the
        rows to emit. If the person they were sent to has itself been merged into one owned
        by another partition since (a cookie merged into its email, and the email into a login
        a moment later: the cookie's sessions arrive after the email's partition forwarded the
        email), the hand-over goes on to that partition (`onward`), like the person's events."""
        person = self.books[partition].resolve(handover["person"])
        owner = self.owner(person)
        if owner != partition:
            onward[owner].append(codec.encode({"person": person, "sessions": handover["sessions"],
                                               "profile": handover.get("profile")}))
            return logic.Output()
        sessions = [Session.from_wire(s) for s in handover["sessions"]]
        out = logic.receive_sessions(self.books[partition], person, sessions)
        if handover.get("profile"):
            self.absorb_profile(partition, person, Profile.from_wire(person, handover["profile"]))
        return out

    def on_barrier(self, partition: int, message: dict[str, Any]) -> None:
        by_person = self.rt.topics.by_person
        if message["stage"] == "identity":
            if self.upstream[partition].arrive(message["id"], message["origin"]):
                # Hand-overs to peers were sent before this: peers flush only after all of them.
                self.rt.broadcast(by_person.name, by_person.partitions,
                                  codec.barrier(message["id"], "sessions-peer", partition))
        elif message["stage"] == "sessions-peer" and self.peers[partition].arrive(message["id"], message["origin"]):
            log.debug("barrier %s: sessions partition %d flushes", message["id"], partition)
            self.flush(partition)
            facts = self.rt.topics.facts
            self.rt.broadcast(facts.name, facts.partitions, codec.barrier(message["id"], "sessions", partition))

    def flush(self, partition: int) -> None:
        self.emit(partition, logic.Output(sessions=logic.flush(self.books[partition])))

    def close_idle(self) -> None:
        now = time.monotonic()
        for partition, book in list(self.books.items()):
            idle = logic.close_idle(book, now, self.rt.settings.session_gap_s)
            if idle:
                self.emit(partition, logic.Output(sessions=idle))
                # their profiles say so too: no open session any more
                self.publish_profiles(partition, {s.person_id for s in idle} & self.profiles[partition].keys())

    def flush_all(self) -> None:
        for partition in list(self.books):
            self.flush(partition)
        flush(self.rt.producer)

    def emit(self, partition: int, out: logic.Output) -> None:
        version, at = time.time_ns(), now_ms()
        self.rt.send_event_rows(out.events, partition)
        self.rt.send_rows("sessions", [session_row(s, version) for s in out.sessions], partition)
        self.rt.send_rows("session_merges", [session_merge_row(r, at) for r in out.remaps], partition)

    def absorb_profile(self, partition: int, person: str, incoming: Profile) -> None:
        self.books[partition].changed.add(person)
        profiles = self.profiles[partition]
        if person in profiles:
            profiles[person].absorb(incoming)
        else:
            incoming.person_id = person
            profiles[person] = incoming
        self.unpublished[partition].add(person)

    def profile(self, partition: int, person: str) -> dict[str, Any] | None:
        """The profile document of a person this worker holds (HTTP lookups)."""
        person = self.books[partition].resolve(person)
        profile = self.profiles[partition].get(person)
        if profile is None:
            return None
        return profile.document(self.open_session(partition, person), now_ms(), self.rt.graph.shared)

    def open_session(self, partition: int, person: str) -> Session | None:
        """The person's latest session while it is open: less than the gap before the
        partition's event time (never taken ahead of the wall clock: one device whose clock
        runs hours fast does not close everyone's), and changed less than the gap ago (live
        mode: a customer who stopped is no longer in a visit, whatever event time says)."""
        book = self.books[partition]
        sessions = book.persons.get(person) or []
        latest = max(sessions, key=lambda s: s.end, default=None)
        if latest is None or latest.end + book.gap_ms <= min(book.watermark, now_ms()):
            return None
        return latest if time.monotonic() - latest.touched_at < self.rt.settings.session_gap_s else None

    def publish_profiles(self, partition: int, persons: set[str]) -> None:
        at = now_ms()
        for person in persons:
            profile = self.profiles[partition].get(person)
            if profile is None:
                continue
            document = profile.document(self.open_session(partition, person), at, self.rt.graph.shared)
            if document["identifiers"]:  # else a tap on a shared device, a person nobody can look up
                self.publish(person, document)

    def publish(self, person: str, document: dict[str, Any]) -> None:
        self.rt.send_profile(person, document)

    def owner(self, person_id: str) -> int:
        return partition_of(person_id, self.rt.topics.by_person.partitions)

    def forget_person(self, partition: int, person: str) -> None:
        """Erase a person (`parcours forget`): its sessions and profile leave the partition's
        state without a row being emitted; the changelog then writes the person's tombstone."""
        book = self.books[partition]
        for session in book.persons.pop(person, []):
            book.dropped(session)
        self.profiles[partition].pop(person, None)
        changed = getattr(book, "changed", None)
        if changed is not None:
            changed.add(person)


def register(app: faust.App, rt: Runtime, sessionizer: Sessionizer) -> Any:
    topic = app.topic(rt.topics.by_person.name, value_serializer="raw", key_serializer="raw")
    restoring: set[asyncio.Future[None]] = set()  # keeps the assignment's restores referenced

    @app.agent(topic, name="parcours.sessions")
    async def sessions(stream: faust.StreamT[bytes]) -> None:
        async for batch in stream.take_events(TAKE, within=TAKE_WITHIN_S):
            grouped = with_offsets(batch)
            for partition in grouped:
                await sessionizer.ensure_restored(partition)
            with rt.stats.timed("sessions"):
                handled = [p for p, messages in grouped.items() if sessionizer.handle_batch(p, messages)]
            with rt.stats.timed("sessions_wait_acks"):
                await rt.flush_outputs()  # outputs first: the changelog must not run ahead
            with rt.stats.timed("sessions_changelog"):
                for partition in handled:
                    sessionizer.write_changelog(partition)
            with rt.stats.timed("changelog_wait_acks"):
                await rt.flush_outputs()

    @app.on_partitions_revoked.connect
    async def on_revoked(app: faust.App, revoked: set[TP], **_: Any) -> None:
        sessionizer.revoke({tp.partition for tp in revoked if tp.topic == topic.get_topic_name()})

    @app.on_partitions_assigned.connect
    async def on_assigned(app: faust.App, assigned: set[TP], **_: Any) -> None:
        for tp in assigned:  # not awaited here: a rebalance must not wait for state to be read
            if tp.topic == topic.get_topic_name():
                started = asyncio.ensure_future(sessionizer.ensure_restored(tp.partition))
                restoring.add(started)
                started.add_done_callback(restored)

    def restored(done: asyncio.Future[None]) -> None:
        restoring.discard(done)
        if not done.cancelled() and done.exception() is not None:  # the agent retries before its batch
            log.warning("restoring a sessions partition failed: %s", done.exception())

    @app.timer(interval=IDLE_CHECK_S)
    async def close_idle_sessions() -> None:
        with rt.stats.timed("sessions_idle"):
            sessionizer.close_idle()
        await rt.flush_outputs()

    return sessions


def with_offsets(batch: Sequence[EventT]) -> dict[int, list[tuple[int, dict[str, Any]]]]:
    """Faust events -> (offset, decoded message) per partition, in offset order."""
    out: dict[int, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for event in batch:
        out[event.message.partition].append((event.message.offset, codec.decode(event.value)))
    return out
