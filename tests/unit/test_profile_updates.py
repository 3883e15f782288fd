"""Profile updates leave the sessions stage once per person per batch (the contract), even when
the batch's events reach the person in several runs (split by merges or barriers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from pipeline.identity.rules import node_id
from pipeline.runtime import Runtime, now_ms
from pipeline.sessions import changelog
from pipeline.sessions.agent import Sessionizer
from pipeline.sessions.state import Session, SessionBook
from pipeline.topics import partition_of
from tests.unit.recording import person_event, recording_runtime


def event(event_id: str, person: str, minute: int) -> dict[str, Any]:
    return person_event(event_id, person, 1_794_000_000_000 + minute * 60_000)


def two_persons_on_one_partition() -> tuple[str, str, int]:
    first = node_id("user_id:first")
    partition = partition_of(first, 4)
    second = next(p for i in range(100) if partition_of(p := node_id(f"device_id:d{i}"), 4) == partition)
    return first, second, partition


def updates(rt: Runtime) -> list[dict[str, Any]]:
    sent = rt.producer.sent  # type: ignore[attr-defined]
    return [orjson.loads(kw["value"]) for topic, kw in sent if topic == rt.topics.profiles.name]


def test_one_update_per_person_per_batch_across_merges_and_barriers(tmp_path: Path) -> None:
    rt = recording_runtime(tmp_path)
    sessions = Sessionizer(rt)
    person, device, partition = two_persons_on_one_partition()
    barrier = {"t": "barrier", "id": "b1", "stage": "identity", "origin": 0}
    sessions.handle_all(partition, [
        {"t": "events", "events": [event("e1", person, 0), event("e2", device, 1)]},
        barrier,
        {"t": "events", "events": [event("e3", person, 2)]},
        {"t": "merge", "remaps": [[device, person]]},  # the device's profile joins the person's
        {"t": "events", "events": [event("e4", person, 3)]},
    ])
    out = updates(rt)
    profiles = [u for u in out if u["type"] == "profile"]
    assert [u["type"] for u in out].count("merge") == 1
    assert [u["person_id"] for u in profiles] == [person]  # once, and none for the merged-away device
    assert profiles[0]["events"] == 4  # the last state: its own three events and the device's one
    sessions.handle_all(partition, [{"t": "events", "events": [event("e5", person, 4)]}])
    assert [u["events"] for u in updates(rt) if u["type"] == "profile"] == [4, 5]  # the next batch: once more


def test_one_fast_device_clock_does_not_close_everyones_open_session(tmp_path: Path) -> None:
    rt = recording_runtime(tmp_path)
    sessions = Sessionizer(rt)
    person, device, partition = two_persons_on_one_partition()
    now = now_ms()
    sessions.handle_all(partition, [{"t": "events", "events": [person_event("n1", person, now - 60_000)]}])
    assert sessions.profile(partition, person)["open_session"] is not None  # type: ignore[index]
    # a phone whose clock is 20 h ahead (ingest accepts up to 24 h)
    sessions.handle_all(partition, [{"t": "events", "events": [person_event("f1", device, now + 20 * 3600_000)]}])
    assert sessions.profile(partition, person)["open_session"] is not None  # type: ignore[index]  # was None


def test_a_session_idle_for_the_gap_is_no_longer_open_and_its_profile_says_so(tmp_path: Path) -> None:
    rt = recording_runtime(tmp_path)
    sessions = Sessionizer(rt)
    person, _, partition = two_persons_on_one_partition()
    sessions.handle_all(partition, [{"t": "events", "events": [person_event("i1", person, now_ms() - 60_000)]}])
    assert updates(rt)[-1]["open_session"] is not None
    for session in sessions.books[partition].persons[person]:  # no event since, for the gap
        session.touched_at -= rt.settings.session_gap_s
    assert sessions.profile(partition, person)["open_session"] is None  # type: ignore[index]
    sessions.close_idle()
    assert updates(rt)[-1]["person_id"] == person and updates(rt)[-1]["open_session"] is None  # was: no update


def test_sessions_rebuilt_from_clickhouse_are_not_all_open(tmp_path: Path) -> None:
    """history.py writes person records without the partition's `__meta__` (its watermark)."""
    old = Session("s-old", "p1", 1_000_000, 1_000_000, 1, ["web"], "home", "home", 0.0, False, dirty=False)
    new = Session("s-new", "p2", 9_000_000, 9_000_000, 1, ["web"], "home", "home", 0.0, False, dirty=False)
    latest = {"p1": changelog.person_record([old], None), "p2": changelog.person_record([new], None)}
    book = changelog.rebuild(latest, SessionBook(gap_ms=1_800_000, lateness_ms=0), 0.0).book
    assert book.watermark == 9_000_000  # was 0: every restored session looked open


def test_a_tap_on_a_shared_device_publishes_no_profile(tmp_path: Path) -> None:
    """Its person is its own (identity/rules.own_person), with only the shared identifier, which
    profiles leave out: a document nobody could look up, kept for good by a compacted topic."""
    rt = recording_runtime(tmp_path)
    rt.graph.shared.add("device_id:tab")
    sessions = Sessionizer(rt)
    tap = node_id("event:t1")
    sessions.handle_all(partition_of(tap, 4), [{"t": "events", "events": [
        person_event("t1", tap, now_ms(), identifiers={"device_id": "tab"}, anchor_id="")]}])
    assert [u for u in updates(rt) if u["type"] == "profile"] == []


def test_a_refresh_publishes_the_profile_again_without_the_identifier_found_shared(tmp_path: Path) -> None:
    rt = recording_runtime(tmp_path)
    sessions = Sessionizer(rt)
    person, _, partition = two_persons_on_one_partition()
    sessions.handle_all(partition, [{"t": "events", "events": [
        person_event("x1", person, now_ms(), identifiers={"user_id": "first", "device_id": "tab"})]}])
    assert updates(rt)[-1]["identifiers"] == {"user_id": ["first"], "device_id": ["tab"]}
    rt.graph.shared.add("device_id:tab")  # a second login on it (identity agent)
    sessions.handle_all(partition, [{"t": "refresh", "persons": [person]}])
    assert updates(rt)[-1]["identifiers"] == {"user_id": ["first"]}  # was: nothing published
