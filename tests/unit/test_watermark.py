"""Low watermarks: the slowest upstream partition sets it; unknown ones hold it, idle ones do not;
the sessions stage forgets a session only once every upstream partition is past it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.identity.rules import node_id
from pipeline.sessions.agent import Sessionizer
from pipeline.topics import partition_of
from pipeline.watermark import LowWatermark, source_watermark
from tests.unit.recording import person_event, recording_runtime


def test_the_slowest_origin_sets_the_low_watermark() -> None:
    low = LowWatermark(origins=3, began=0.0, idle_s=10.0)
    low.report(0, 500, now=1.0)
    low.report(1, 200, now=1.0)
    assert low.low(now=1.0) == 0  # origin 2 unknown: it may still deliver anything
    low.report(2, 900, now=2.0)
    assert low.low(now=2.0) == 200
    low.report(1, 100, now=3.0)  # a late event: an origin's watermark only rises
    assert low.low(now=3.0) == 200


def test_a_silent_origin_stops_holding_the_others_back_until_it_speaks_again() -> None:
    low = LowWatermark(origins=2, began=0.0, idle_s=10.0)
    low.report(0, 1_000, now=1.0)
    assert low.low(now=5.0) == 0  # origin 1 never heard, the tracker is young
    assert low.low(now=10.5) == 1_000  # ... now it counts as idle
    low.report(1, 300, now=11.0)
    assert low.low(now=11.0) == 300
    low.report(0, 2_000, now=30.0)
    assert low.low(now=30.0) == 2_000  # origin 1 silent since 11 s


def test_nothing_heard_means_nothing_known() -> None:
    low = LowWatermark(origins=2, began=0.0, idle_s=10.0)
    assert not low.reported and low.low(now=100.0) == 0


def test_a_raw_partition_watermark_never_runs_ahead_of_the_wall_clock_nor_back() -> None:
    assert source_watermark(previous=0, latest_event_ms=5_000, now_ms=9_000) == 5_000
    assert source_watermark(previous=5_000, latest_event_ms=20_000, now_ms=9_000) == 9_000  # a fast device clock
    assert source_watermark(previous=9_000, latest_event_ms=1_000, now_ms=9_500) == 9_000  # a late event


def test_the_sessions_stage_keeps_sessions_a_slow_upstream_partition_may_still_reach(tmp_path: Path) -> None:
    rt = recording_runtime(tmp_path)
    sessions = Sessionizer(rt)
    person = node_id("user_id:slow")
    partition = partition_of(person, rt.topics.by_person.partitions)
    book = sessions.books[partition]
    book.hold_s = book.settle_s = 0.0  # only the watermarks decide here

    def events(origin: int, watermark_min: int, *evs: dict[str, Any]) -> dict[str, Any]:
        return {"t": "events", "events": list(evs), "o": origin, "wm": minute(watermark_min)}

    sessions.handle_all(partition, [events(o, 0, event(f"e{o}", person, 0)) for o in range(rt.topics.valid.partitions)])
    # valid partition 0 runs 20 hours ahead (a bulk replay's skew, a device whose clock is fast)
    fast = next(p for i in range(100) if partition_of(p := node_id(f"user_id:fast{i}"), 4) == partition)
    sessions.handle_all(partition, [events(0, 20 * 60, event("ahead", fast, 20 * 60))])
    assert book.watermark == minute(20 * 60) and book.low_watermark == minute(0)
    assert person in book.persons  # its session is closed (the row went out) but not forgotten
    sessions.handle_all(partition, [events(1, 10, event("late", person, 10))])
    assert [s.event_count for s in book.persons[person]] == [rt.topics.valid.partitions + 1]


def minute(m: int) -> int:
    return 1_794_000_000_000 + m * 60_000


def event(event_id: str, person: str, at_minute: int) -> dict[str, Any]:
    return person_event(event_id, person, minute(at_minute), identifiers={"user_id": "u"})
