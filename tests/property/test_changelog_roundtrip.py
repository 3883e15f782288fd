"""The sessions changelog: whatever happened to a partition (events in any order, merges of
persons, splits, evictions, hand-overs delivered twice), the state rebuilt from the latest record of
each key equals the state in memory."""

from __future__ import annotations

import random
from collections.abc import MutableMapping
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.profiles.state import Profile
from pipeline.profiles.store import ProfileStore
from pipeline.sessions import changelog, logic
from pipeline.sessions.state import Session, SessionBook

GAP = 30
CONVERSIONS = frozenset({"purchase"})


class Compacted:
    """A producer that keeps the latest value per key, as a compacted topic does."""

    def __init__(self) -> None:
        self.latest: dict[str, bytes | None] = {}

    def produce(self, topic: str, value: bytes | None = None, key: bytes | None = None, **_: Any) -> None:
        self.latest[(key or b"").decode()] = value


def event(i: int, person: str, minute: int) -> dict[str, Any]:
    return {"event_id": f"e{i}", "person_id": person, "occurred_at": minute, "channel": "web",
            "touchpoint": "x", "event_type": "purchase" if i % 5 == 0 else "page_view", "revenue": 1.0 * (i % 5 == 0),
            "stage": "before", "identifiers": {"cookie": person}}


def state_of(book: SessionBook, profiles: MutableMapping[str, Profile]) -> tuple[Any, Any, Any]:
    sessions = {p: sorted((s.session_id, s.start, s.end, s.event_count, sorted(s.event_ids), s.revenue)
                          for s in ss) for p, ss in book.persons.items() if ss}
    return sessions, {p: orjson.dumps(v) for p, v in profiles.items()}, dict(book.forward)


steps = st.lists(st.one_of(
    st.tuples(st.just("events"), st.lists(st.tuples(st.sampled_from("pqrs"), st.integers(0, 300)), min_size=1, max_size=6)),
    st.tuples(st.just("merge"), st.sampled_from("pqrs"), st.sampled_from("pqrs")),
    st.tuples(st.just("handover_twice"), st.sampled_from("pqrs"), st.sampled_from("pqrs")),
    st.tuples(st.just("split"), st.sampled_from("pqrs")),
), min_size=1, max_size=25)


@settings(max_examples=200, deadline=None)
@given(steps, st.integers(0, 2**32), st.integers(1, 3))
def test_the_rebuilt_state_is_the_state_in_memory(plan, seed, hot) -> None:  # type: ignore[no-untyped-def]
    """Profiles in a store that packs all but `hot` of them after every batch, as a worker's."""
    rnd = random.Random(seed)
    book, profiles, topic = SessionBook(GAP, lateness_ms=100), ProfileStore(hot), Compacted()
    n = 0
    for step in plan:
        if step[0] == "events":
            batch = []
            for person, minute in step[1]:
                n += 1
                batch.append(event(n, person, minute))
            rnd.shuffle(batch)
            out = logic.apply(book, batch, CONVERSIONS)
            for e in out.events:
                profiles.setdefault(e["person_id"], Profile(e["person_id"])).add(e, CONVERSIONS)
        elif step[0] == "split":  # a person released from the one it was merged into
            logic.release_person(book, step[1])
        elif step[0] in ("merge", "handover_twice") and book.resolve(step[1]) != book.resolve(step[2]):
            source, target = book.resolve(step[1]), book.resolve(step[2])
            moved = logic.take_person(book, source, target)
            if step[0] == "handover_twice":  # a hand-over delivered again after a crash: copies
                logic.receive_sessions(book, target, [Session.from_wire(s.to_wire()) for s in moved])
            logic.receive_sessions(book, target, moved)
            if source in profiles:
                profile = profiles.pop(source)
                book.changed.add(target)
                if target in profiles:
                    profiles[target].absorb(profile)
                else:
                    profile.person_id = target
                    profiles[target] = profile
        changelog.write(topic, "t", 0, book, profiles, through=n)  # type: ignore[arg-type]
        profiles.settle()
    restored = changelog.rebuild(dict(topic.latest), SessionBook(GAP, lateness_ms=100), now=0.0)
    assert restored.through == n
    assert state_of(restored.book, restored.profiles) == state_of(book, profiles)
