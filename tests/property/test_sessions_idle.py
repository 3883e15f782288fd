"""Live mode finds idle sessions through an index of the changed ones (SessionBook.recent)
instead of scanning every session. Whatever the mix of events, person merges, hand-overs,
evictions and idle checks, the index holds exactly the sessions waiting to be emitted, and
each idle check emits exactly what a scan of every session would."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.sessions import logic
from pipeline.sessions.state import Session, SessionBook

GAP = 30
IDLE_S = 10.0

PERSONS = ["p", "q", "r", "s"]
steps = st.lists(st.one_of(
    st.tuples(st.just("events"), st.lists(st.tuples(st.sampled_from(PERSONS), st.integers(0, 3000)),
                                          min_size=1, max_size=6)),
    st.tuples(st.just("merge"), st.tuples(st.sampled_from(PERSONS), st.sampled_from(PERSONS))),
    st.tuples(st.just("idle"), st.just(None)),
    st.tuples(st.just("flush"), st.just(None)),
), min_size=1, max_size=30)


def waiting(book: SessionBook) -> set[int]:
    """The sessions of the book not emitted since their last change (what a scan finds)."""
    return {id(s) for sessions in book.persons.values() for s in sessions if s.dirty}


def idle_by_scan(book: SessionBook, now: float) -> set[int]:
    return {id(s) for sessions in book.persons.values() for s in sessions
            if s.dirty and now - s.touched_at >= IDLE_S}


@settings(max_examples=300, deadline=None)
@given(steps, st.lists(st.floats(0.0, 8.0), min_size=30, max_size=30))
def test_idle_checks_emit_what_a_scan_of_every_session_would(plan, pauses) -> None:  # type: ignore[no-untyped-def]
    book = SessionBook(GAP, lateness_ms=200, settle_s=2.0)
    now, n = 100.0, 0
    for (kind, arg), pause in zip(plan, pauses, strict=False):
        now += pause  # the wall clock only moves forward
        if kind == "events":
            events = [{"event_id": f"e{n + i}", "person_id": p, "occurred_at": t, "channel": "web",
                       "touchpoint": "x", "event_type": "page_view", "revenue": 0.0}
                      for i, (p, t) in enumerate(arg)]
            n += len(events)
            logic.apply(book, events, frozenset(), now)
        elif kind == "merge":
            source, target = arg
            if book.resolve(source) != book.resolve(target):  # a hand-over of fresh copies, as between workers
                moved = [Session.from_wire(s.to_wire()) for s in logic.take_person(book, source, target)]
                logic.receive_sessions(book, target, moved)
        elif kind == "idle":
            expected = idle_by_scan(book, now)
            assert {id(s) for s in logic.close_idle(book, now, IDLE_S)} >= expected
            assert not idle_by_scan(book, now)  # none left behind
        else:
            logic.flush(book)
        assert set(book.recent) == waiting(book)
        assert all(s.alive for s in book.recent.values())


def test_an_idle_check_does_not_visit_the_sessions_already_emitted() -> None:
    book = SessionBook(GAP, lateness_ms=10**9)
    events = [{"event_id": f"e{i}", "person_id": f"p{i}", "occurred_at": i * 1000, "channel": "web",
               "touchpoint": "x", "event_type": "page_view", "revenue": 0.0} for i in range(1000)]
    logic.apply(book, events, frozenset(), now=0.0)
    logic.flush(book)
    assert len(book.recent) == 0  # emitted: nothing left for the idle check to look at
    logic.apply(book, [{**events[-1], "event_id": "again"}], frozenset(), now=5.0)  # its session is still open
    assert [s.person_id for s in book.recent.values()] == ["p999"]
    assert logic.close_idle(book, now=4.0 + IDLE_S, idle_s=IDLE_S) == []
    assert [s.person_id for s in logic.close_idle(book, now=5.0 + IDLE_S, idle_s=IDLE_S)] == ["p999"]
