"""Events on shared identifiers go to the login around them in event time, whatever the order
and whatever person the streaming stages gave them (jobs/taps.py, jobs/resessionize.py)."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.resessionize import affected
from jobs.taps import attribute_taps
from pipeline.identity.rules import own_person

GAP = 30


def frames(rows: list[tuple[str, int, str, str | None]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """rows: (event_id, time, person the streaming stage gave, login person or None for a tap),
    all on one shared identifier `d`."""
    events = pl.DataFrame([{"event_id": e, "occurred_at": t, "person_id": login or p, "session_id": f"s-{e}",
                            "on_shared": login is None} for e, t, p, login in rows],
                          schema={"event_id": pl.String, "occurred_at": pl.Int64, "person_id": pl.String,
                                  "session_id": pl.String, "on_shared": pl.Boolean})
    sightings = pl.DataFrame([{"via": "d", "event_id": e} for e, _, _, _ in rows],
                             schema={"via": pl.String, "event_id": pl.String})
    return events, sightings


def persons(events: pl.DataFrame, sightings: pl.DataFrame) -> dict[str, str]:
    return dict(attribute_taps(events, sightings, GAP).select("event_id", "person_id").iter_rows())


def test_a_tap_goes_to_the_login_before_it_not_to_a_later_one() -> None:
    # the family tablet: T1 logs in at 0, taps at 5 and 10; T2 logs in at 360, taps at 365.
    # The streaming stage gave t2 to T2 (it saw T2's login first) and t5 to T1.
    rows = [("t1", 0, "T1", "T1"), ("t2", 5, "T2", None), ("t3", 10, "x3", None),
            ("t4", 360, "T2", "T2"), ("t5", 365, "T1", None)]
    assert persons(*frames(rows)) == {"t1": "T1", "t2": "T1", "t3": "T1", "t4": "T2", "t5": "T2"}


def test_a_run_of_taps_keeps_its_login_beyond_one_gap_and_a_lone_tap_is_its_own() -> None:
    # taps every 20 (< gap) from the login: 60 after the login, still its run. 200 is alone.
    rows = [("a", 100, "A", "A"), ("b", 120, "?", None), ("c", 140, "?", None), ("d", 160, "?", None),
            ("e", 200, "?", None)]
    assert persons(*frames(rows)) == {"a": "A", "b": "A", "c": "A", "d": "A", "e": own_person("e")}


def test_a_tap_before_any_login_of_its_run_goes_to_the_first_login_after_it() -> None:
    rows = [("t", 0, "?", None), ("l", 20, "L", "L"), ("m", 25, "M", "M")]
    assert persons(*frames(rows))["t"] == "L"


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 200), st.sampled_from(["A", "B", None])), min_size=1, max_size=25),
       st.randoms(use_true_random=False))
def test_the_answer_depends_neither_on_row_order_nor_on_the_streamed_person(
        timeline: list[tuple[int, str | None]], rnd) -> None:  # type: ignore[no-untyped-def]
    rows = [(f"e{i:02d}", t, rnd.choice(["A", "B", "x"]), login) for i, (t, login) in enumerate(timeline)]
    first = persons(*frames(rows))
    shuffled = [(e, t, rnd.choice(["A", "B", "y"]), login) for e, t, _, login in rnd.sample(rows, len(rows))]
    assert persons(*frames(shuffled)) == first
    for e, _, _, login in rows:  # logins keep their person; a tap gets a login's or its own
        assert first[e] == login if login else first[e] in {"A", "B", own_person(e)}


def test_affected_grows_to_every_person_sharing_a_session() -> None:
    # q1 (merged) shares session s with q2's event; q2's other session s2 comes along, and so
    # does r, who shares s2; z stays out.
    frame = pl.DataFrame({"event_id": ["a", "b", "c", "d", "z"], "person_id": ["q1", "q2", "q2", "r", "z"],
                          "was_person": ["q1", "q2", "q2", "r", "z"], "session_id": ["s", "s", "s2", "s2", "sz"]})
    assert sorted(affected(frame, {"q1"})["event_id"]) == ["a", "b", "c", "d"]
    assert affected(frame, {"nobody"}).is_empty()


def test_a_tap_on_two_shared_identifiers_takes_the_latest_login_before_it_on_either() -> None:
    # a call on the desk phone (d) through the switchboard (s): d's last caller logged in at 30,
    # s's at 40; the call at 50 goes to S's caller, whichever identifier sorts first by name.
    events = pl.DataFrame({"event_id": ["ld", "ls", "tap", "late"], "occurred_at": [30, 40, 50, 55],
                           "person_id": ["D", "S", "?", "?"], "on_shared": [False, False, True, True]})
    for d, s in (("a", "b"), ("b", "a")):
        sightings = pl.DataFrame({"via": [d, s, d, s, d], "event_id": ["ld", "ls", "tap", "tap", "late"]})
        placed = dict(attribute_taps(events, sightings, GAP).select("event_id", "person_id").iter_rows())
        assert placed == {"ld": "D", "ls": "S", "tap": "S", "late": "D"}


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 200), st.sampled_from(["A", "B", "C", None]),
                          st.sets(st.sampled_from(["k", "p", "s"]), min_size=1)), min_size=1, max_size=25),
       st.permutations(["k", "p", "s"]))
def test_the_answer_does_not_depend_on_the_shared_identifiers_names(
        timeline: list[tuple[int, str | None, set[str]]], names: list[str]) -> None:
    # the anchor of a shared email or phone is a salted hash: another install, other names
    events = pl.DataFrame([{"event_id": f"e{i:02d}", "occurred_at": t, "person_id": login or "?",
                            "on_shared": login is None} for i, (t, login, _) in enumerate(timeline)],
                          schema={"event_id": pl.String, "occurred_at": pl.Int64, "person_id": pl.String,
                                  "on_shared": pl.Boolean})
    rename = dict(zip(["k", "p", "s"], names, strict=True))

    def placed(name: dict[str, str]) -> dict[str, str]:
        sightings = pl.DataFrame([{"via": name[v], "event_id": f"e{i:02d}"}
                                  for i, (_, _, vias) in enumerate(timeline) for v in sorted(vias)],
                                 schema={"via": pl.String, "event_id": pl.String})
        return dict(attribute_taps(events, sightings, GAP).select("event_id", "person_id").iter_rows())

    assert placed(rename) == placed({v: v for v in rename})
