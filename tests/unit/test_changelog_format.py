"""The sessions changelog's records: sessions and profiles are written as arrays, and the
records of earlier workers (objects in both places) are still read into the same state."""

from __future__ import annotations

import orjson

from pipeline.profiles.state import Profile
from pipeline.profiles.store import ProfileStore
from pipeline.sessions import changelog
from pipeline.sessions.state import WIRE_FIELDS, Session, SessionBook

CONVERSIONS = frozenset({"purchase"})


def person_state(person: str) -> tuple[list[Session], Profile]:
    sessions = [Session(f"s{i}", person, 1_000 * i, 1_000 * i + 50, 2, ["web", "store"], "home", "checkout",
                        12.5 * i, i == 1, [f"old{i}"], {f"e{i}a": 0.0, f"e{i}b": 12.5 * i}, dirty=i == 1)
                for i in (1, 2)]
    profile = Profile(person)
    profile.add({"event_id": "e1b", "occurred_at": 1_050, "identifiers": {"anonymous_id": "a-1"},
                 "stage": "purchase", "touchpoint": "checkout", "channel": "web",
                 "event_type": "purchase", "revenue": 12.5}, CONVERSIONS)
    return sessions, profile


def restored(latest: dict[str, bytes | None]) -> changelog.Restored:
    return changelog.rebuild(latest, SessionBook(gap_ms=30, lateness_ms=100), now=7.0)


def test_records_are_arrays_and_read_back_equal() -> None:
    sessions, profile = person_state("p1")
    record = changelog.person_record(sessions, profile.fields())
    data = orjson.loads(record)
    assert isinstance(data["p"], list) and all(isinstance(s, list) and len(s) == len(WIRE_FIELDS) for s in data["s"])
    state = restored({"p1": record})
    assert [s.to_wire() for s in state.book.persons["p1"]] == [s.to_wire() for s in sessions]
    assert state.profiles["p1"] == profile


def test_a_packed_profile_is_written_as_it_is() -> None:
    sessions, profile = person_state("p1")
    store = ProfileStore(hot=0)
    store["p1"] = profile
    store.settle()  # packed
    assert orjson.loads(changelog.person_record(sessions, store.fields("p1"))) == \
        orjson.loads(changelog.person_record(sessions, profile.fields()))
    assert store.fields("nobody") is None


def test_records_of_earlier_workers_are_still_read() -> None:
    """Before 2026-12-07 orjson wrote the slotted dataclasses: objects with every field."""
    sessions, profile = person_state("p1")
    old = orjson.dumps({"s": sessions, "p": profile})
    assert isinstance(orjson.loads(old)["p"], dict)
    new, earlier = restored({"p1": changelog.person_record(sessions, profile.fields())}), restored({"p1": old})
    assert [s.to_wire() for s in earlier.book.persons["p1"]] == [s.to_wire() for s in new.book.persons["p1"]]
    assert earlier.profiles["p1"] == new.profiles["p1"] == profile
    assert all(s.touched_at == 7.0 for s in earlier.book.persons["p1"])  # held as if just changed


def test_a_profile_reads_back_from_either_wire_form() -> None:
    """Hand-overs carry `Profile.fields`; those of earlier workers carried the object."""
    _, profile = person_state("p1")
    assert Profile.from_wire("p1", orjson.loads(orjson.dumps(profile.fields()))) == profile
    assert Profile.from_wire("p1", orjson.loads(orjson.dumps(profile))) == profile


def test_session_arrays_of_workers_before_the_entry_and_exit_events_are_still_read() -> None:
    """Arrays written before `entry_event`/`exit_event` end at `dirty`."""
    session = Session("s1", "p1", 1_000, 1_050, 2, ["web"], "home", "checkout", 0.0, False, [],
                      {"e1": 0.0, "e2": 0.0}, dirty=False, entry_event="e1", exit_event="e2")
    wire = list(session.to_wire())
    assert Session.from_wire(wire).to_wire() == session.to_wire()
    old = Session.from_wire(wire[:WIRE_FIELDS.index("dirty") + 1])
    assert (old.entry_touchpoint, old.dirty, old.alive, old.entry_event, old.exit_event) == \
        ("home", False, True, "", "")
