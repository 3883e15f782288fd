"""Whatever the arrival order (and however events are split into batches), every event is in
exactly one session, sessions of a person never overlap, and the grouping equals the
reference: maximal runs of a person's events less than `gap` apart."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.sessions import logic
from pipeline.sessions.state import SessionBook

GAP = 30

timelines = st.lists(st.tuples(st.sampled_from(["p", "q", "r"]), st.integers(0, 400)), min_size=1, max_size=40)


def reference(events: list[dict[str, object]]) -> set[frozenset[str]]:
    groups: set[frozenset[str]] = set()
    by_person: dict[str, list[dict[str, object]]] = {}
    for e in events:
        by_person.setdefault(str(e["person_id"]), []).append(e)
    for evs in by_person.values():
        evs.sort(key=lambda e: int(e["occurred_at"]))  # type: ignore[arg-type]
        current: list[str] = []
        last = None
        for e in evs:
            if last is not None and int(e["occurred_at"]) - last >= GAP:  # type: ignore[arg-type]
                groups.add(frozenset(current))
                current = []
            current.append(str(e["event_id"]))
            last = int(e["occurred_at"])  # type: ignore[arg-type]
        groups.add(frozenset(current))
    return groups


def final_groups(outs: list[logic.Output]) -> set[frozenset[str]]:
    remap: dict[str, str] = {}
    assigned: dict[str, str] = {}
    for out in outs:
        for r in out.remaps:
            remap[r.from_session] = r.to_session
        assigned.update({str(e["event_id"]): str(e["session_id"]) for e in out.events})

    def current(s: str) -> str:
        while s in remap:
            s = remap[s]
        return s

    groups: dict[str, set[str]] = {}
    for event_id, session in assigned.items():
        groups.setdefault(current(session), set()).add(event_id)
    return {frozenset(g) for g in groups.values()}


@settings(max_examples=300, deadline=None)
@given(timelines, st.randoms(use_true_random=False), st.integers(1, 8))
def test_arrival_order_and_batching_do_not_matter(timeline, rnd, batch) -> None:  # type: ignore[no-untyped-def]
    events = [{"event_id": f"e{i}", "person_id": p, "occurred_at": t, "channel": "web", "touchpoint": "x",
               "event_type": "page_view", "revenue": 0.0} for i, (p, t) in enumerate(timeline)]
    arrival = list(events)
    rnd.shuffle(arrival)
    book = SessionBook(GAP, lateness_ms=10_000)  # everything stays within the lateness
    outs = [logic.apply(book, [dict(e) for e in arrival[i:i + batch]], frozenset())
            for i in range(0, len(arrival), batch)]
    groups = final_groups(outs)
    assert groups == reference(events)
    live = [s for sessions in book.persons.values() for s in sessions]
    assert sum(s.event_count for s in live) == len(events)
    for sessions in book.persons.values():
        spans = sorted((s.start, s.end) for s in sessions)
        assert all(a_end + GAP <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 120), st.sampled_from(["web", "app", "store", "email"])),
                min_size=1, max_size=30),
       st.randoms(use_true_random=False), st.integers(1, 8))
def test_entry_and_exit_follow_event_time_then_event_id_whatever_the_arrival_order(
        timeline, rnd, batch) -> None:  # type: ignore[no-untyped-def]
    # Timestamps repeat: events at the same millisecond are ordered by id, as in the views.
    events = [{"event_id": f"e{i}", "person_id": "p", "occurred_at": t, "channel": c, "touchpoint": c,
               "event_type": "page_view", "revenue": 0.0} for i, (t, c) in enumerate(timeline)]
    arrival = list(events)
    rnd.shuffle(arrival)
    book = SessionBook(GAP, lateness_ms=10_000)
    for i in range(0, len(arrival), batch):
        logic.apply(book, [dict(e) for e in arrival[i:i + batch]], frozenset())
    for session in book.persons["p"]:
        mine = sorted((e for e in events if session.start <= e["occurred_at"] <= session.end),
                      key=lambda e: (e["occurred_at"], e["event_id"]))
        assert session.channels[0] == session.entry_touchpoint == mine[0]["channel"]
        assert session.exit_touchpoint == mine[-1]["touchpoint"]
        assert sorted(session.channels) == sorted({e["channel"] for e in mine})
