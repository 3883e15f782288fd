"""Sessionization: gap, cross-device, out-of-order, bridging merges, closing, hand-overs."""

from __future__ import annotations

from pipeline.sessions import logic
from pipeline.sessions.state import SessionBook

MIN = 60_000
GAP = 30 * MIN
CONVERSIONS = frozenset({"purchase"})


def ev(i: int, minute: float, person: str = "p", channel: str = "web", kind: str = "page_view",
       revenue: float = 0.0, touchpoint: str = "home") -> dict[str, object]:
    return {"event_id": f"e{i}", "person_id": person, "occurred_at": int(minute * MIN), "channel": channel,
            "touchpoint": touchpoint, "event_type": kind, "revenue": revenue}


def book(lateness_min: int = 360) -> SessionBook:
    return SessionBook(GAP, lateness_min * MIN)


def sessions_of(out: logic.Output) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for e in out.events:
        groups.setdefault(str(e["session_id"]), []).append(str(e["event_id"]))
    return groups


def test_events_closer_than_the_gap_share_a_session_across_devices_and_channels() -> None:
    out = logic.apply(book(), [ev(1, 0), ev(2, 10, channel="app"), ev(3, 35, channel="call_center"),
                               ev(4, 70)], CONVERSIONS)
    assert sorted(sessions_of(out).values()) == [["e1", "e2", "e3"], ["e4"]]


def test_a_late_event_bridging_two_sessions_merges_them_into_the_earliest() -> None:
    b = book()
    first = logic.apply(b, [ev(1, 0), ev(2, 50)], CONVERSIONS)
    early, late = first.events[0]["session_id"], first.events[1]["session_id"]
    assert early != late
    out = logic.apply(b, [ev(3, 25)], CONVERSIONS)
    assert out.events[0]["session_id"] == early
    assert [(r.from_session, r.to_session) for r in out.remaps] == [(late, early)]


def test_sessions_close_when_the_watermark_passes_end_plus_gap_and_carry_their_facts() -> None:
    b = book()
    out = logic.apply(b, [ev(1, 0, touchpoint="ad"), ev(2, 5, kind="purchase", revenue=42.5, channel="store",
                                                       touchpoint="till")], CONVERSIONS)
    assert out.sessions == []
    out = logic.apply(b, [ev(3, 40, person="q")], CONVERSIONS)
    (closed,) = out.sessions
    assert (closed.event_count, closed.revenue, closed.converted) == (2, 42.5, True)
    assert (closed.entry_touchpoint, closed.exit_touchpoint, closed.channels) == ("ad", "till", ["web", "store"])


def test_late_event_reopens_a_closed_session_which_is_emitted_again() -> None:
    b = book()
    logic.apply(b, [ev(1, 0), ev(2, 100, person="q")], CONVERSIONS)  # p's session closed
    out = logic.apply(b, [ev(3, 10)], CONVERSIONS)
    assert [s.event_count for s in out.sessions] == [2]


def test_sessions_past_the_lateness_are_forgotten_unless_held() -> None:
    b = book(lateness_min=60)
    logic.apply(b, [ev(1, 0)], CONVERSIONS)
    logic.apply(b, [ev(2, 500, person="q")], CONVERSIONS)
    assert "p" not in b.persons
    held = SessionBook(GAP, 60 * MIN, hold_s=100.0)
    logic.apply(held, [ev(1, 0)], CONVERSIONS, now=1.0)
    logic.apply(held, [ev(2, 500, person="q")], CONVERSIONS, now=50.0)
    assert "p" in held.persons
    logic.apply(held, [ev(3, 501, person="q")], CONVERSIONS, now=200.0)
    assert "p" not in held.persons


def test_a_held_session_does_not_keep_the_ones_behind_it_in_memory() -> None:
    b = SessionBook(GAP, 60 * MIN, hold_s=100.0)
    logic.apply(b, [ev(1, 10, person="r")], CONVERSIONS, now=1.0)
    logic.apply(b, [ev(2, 0)], CONVERSIONS, now=90.0)  # ends first, changed last
    logic.apply(b, [ev(3, 500, person="q")], CONVERSIONS, now=150.0)
    assert "r" not in b.persons and "p" in b.persons
    logic.apply(b, [ev(4, 501, person="q")], CONVERSIONS, now=200.0)
    assert "p" not in b.persons


def test_sessions_are_forgotten_only_past_the_low_watermark_of_every_upstream_partition() -> None:
    b = book(lateness_min=60)
    b.low_watermark = 95 * MIN  # a slow upstream partition is at minute 95
    logic.apply(b, [ev(1, 0), ev(2, 10, person="r")], CONVERSIONS)
    out = logic.apply(b, [ev(3, 500, person="q")], CONVERSIONS)
    assert sorted(s.person_id for s in out.sessions) == ["p", "r"]  # the watermark closes both
    assert "p" not in b.persons and "r" in b.persons  # 10 + 30 + 60 > 95: r may still get events
    late = logic.apply(b, [ev(4, 30, person="r")], CONVERSIONS)
    assert late.events[0]["session_id"] == b.persons["r"][0].session_id and b.persons["r"][0].event_count == 2


def test_flush_emits_open_sessions_once() -> None:
    b = book()
    logic.apply(b, [ev(1, 0)], CONVERSIONS)
    assert [s.event_count for s in logic.flush(b)] == [1]
    assert logic.flush(b) == []


def test_merged_persons_sessions_merge_and_later_events_are_forwarded() -> None:
    b = book()
    logic.apply(b, [ev(1, 0, person="anon"), ev(2, 20, person="user")], CONVERSIONS)
    moved = logic.take_person(b, "anon", "user")
    out = logic.receive_sessions(b, "user", moved)
    assert len(b.persons["user"]) == 1 and b.persons["user"][0].event_count == 2
    assert len(out.remaps) == 1
    later = logic.apply(b, [ev(3, 30, person="anon")], CONVERSIONS)
    assert later.events[0]["person_id"] == "user"
    assert later.events[0]["session_id"] == b.persons["user"][0].session_id


def test_a_person_split_off_again_opens_its_own_sessions_and_its_past_stays_merged() -> None:
    b = book()
    logic.apply(b, [ev(1, 0, person="anon"), ev(2, 20, person="user")], CONVERSIONS)
    logic.receive_sessions(b, "user", logic.take_person(b, "anon", "user"))
    assert logic.release_person(b, "anon") == "user"
    assert logic.release_person(b, "anon") is None  # delivered twice: nothing left to release
    later = logic.apply(b, [ev(3, 30, person="anon")], CONVERSIONS)
    assert later.events[0]["person_id"] == "anon"
    assert [s.event_count for s in b.persons["user"]] == [2] and [s.event_count for s in b.persons["anon"]] == [1]
    assert "anon" in b.forwarded  # the changelog writes the released forward's tombstone


def test_live_mode_emits_sessions_idle_for_a_gap_of_wall_clock_time() -> None:
    b = book()
    logic.apply(b, [ev(1, 0), ev(2, 5, person="q")], CONVERSIONS, now=100.0)
    assert logic.close_idle(b, now=100.0 + 60 * 29, idle_s=1800) == []
    idle = logic.close_idle(b, now=100.0 + 1800, idle_s=1800)
    assert sorted(s.person_id for s in idle) == ["p", "q"]
    assert logic.close_idle(b, now=100.0 + 3600, idle_s=1800) == []  # emitted once
    out = logic.apply(b, [ev(3, 10)], CONVERSIONS, now=5000.0)  # a late event re-opens it
    assert out.events[0]["session_id"] == idle[0].session_id or out.events[0]["session_id"] == idle[1].session_id


def test_a_closed_session_is_emitted_once_it_stays_untouched_for_the_settle_time() -> None:
    b = SessionBook(GAP, 360 * MIN, settle_s=1.0)
    logic.apply(b, [ev(1, 0)], CONVERSIONS, now=10.0)
    assert logic.apply(b, [ev(2, 100, person="q")], CONVERSIONS, now=10.5).sessions == []  # closed, settling
    # a late event re-opens it before it settled: still one row to come, with both events
    assert logic.apply(b, [ev(3, 10)], CONVERSIONS, now=10.8).sessions == []
    assert logic.apply(b, [ev(4, 101, person="q")], CONVERSIONS, now=11.5).sessions == []  # 0.7 s untouched
    out = logic.apply(b, [ev(5, 102, person="q")], CONVERSIONS, now=11.9)
    assert [(s.person_id, s.event_count) for s in out.sessions] == [("p", 2)]
    assert logic.apply(b, [ev(6, 103, person="q")], CONVERSIONS, now=20.0).sessions == []  # emitted once
    b.now = 20.0
    assert logic.flush(b)[0].person_id == "q"  # a flush does not wait for settling
