"""Two replays into one data directory, each on a fresh embedded broker (memory-only): the
second starts from the identity graph the first left in ClickHouse, so links of the first run
still count, and the end result is the one a single replay of both files gives."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.conftest import query, run_cli
from tests.integration.test_shared_device import REUSED_EMAIL, TABLET, line, logins_of_persons

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sequential")
    data_dir = root / "data"
    lines = {**TABLET, **REUSED_EMAIL}
    # the second member's login and taps first; Q2 takes the email before Q1's earlier login shows up
    first = ["t4", "t2", "t5", "q0", "q50", "q60"]
    for name, ids in (("first", first), ("second", [e for e in lines if e not in first])):
        path = root / f"{name}.ndjson"
        path.write_bytes(b"\n".join(lines[e] for e in ids) + b"\n")
        done = run_cli(["replay", str(path)], data_dir, env={"PARCOURS_SESSION_GAP": "30m"})
        assert done.returncode == 0, done.stderr[-3000:]
    return data_dir


def test_the_second_run_knows_the_first_runs_links(replayed: Path) -> None:
    users = logins_of_persons(replayed)
    # the refused link: the email stays with Q1's cookie, whose login (10:10) precedes Q2's (10:50)
    assert {e: users[e] for e in REUSED_EMAIL} == {"q0": "u-Q1", "q10": "u-Q1", "q50": "u-Q2", "q60": "u-Q1",
                                                   "q61": "u-Q1"}
    # the tablet turned out shared only in the second run: the first run's taps are placed too
    assert {e: users[e] for e in TABLET} == {"t1": "u-T1", "t2": "u-T1", "t3": "u-T1", "t4": "u-T2", "t5": "u-T2"}


def test_every_event_is_in_one_live_session(replayed: Path) -> None:
    (row,) = query(replayed, "SELECT count() AS events, "
                             "countIf(session_id NOT IN (SELECT session_id FROM parcours.v_sessions)) AS orphans, "
                             "(SELECT sum(event_count) FROM parcours.v_sessions) AS in_sessions FROM parcours.v_events")
    assert row == {"events": 10, "orphans": 0, "in_sessions": 10}


def test_identifiers_a_killed_run_did_not_record_are_recorded_by_the_next(tmp_path: Path) -> None:
    """A run killed after writing a link group but before its identifiers' rows: the next run
    knows the identifiers from the restored graph (never new again), so it writes their rows."""
    data_dir = tmp_path / "data"
    lines = {**TABLET, **REUSED_EMAIL}
    first, second = tmp_path / "first.ndjson", tmp_path / "second.ndjson"
    first.write_bytes(b"\n".join(lines.values()) + b"\n")
    second.write_bytes(lines["t1"] + b"\n")  # a duplicate: nothing new to learn
    assert run_cli(["replay", str(first)], data_dir, env={"PARCOURS_SESSION_GAP": "30m"}).returncode == 0
    before = {(r["kind"], r["value"]): r for r in query(data_dir, "SELECT kind, value, person_id, "
                                                                  "toString(first_seen) AS first_seen "
                                                                  "FROM parcours.v_identities")}
    done = run_cli(["sql", "DELETE FROM parcours.identities WHERE kind IN ('email', 'user_id')"], data_dir)
    assert done.returncode == 0, done.stderr
    assert run_cli(["replay", str(second)], data_dir, env={"PARCOURS_SESSION_GAP": "30m"}).returncode == 0
    after = {(r["kind"], r["value"]): r for r in query(data_dir, "SELECT kind, value, person_id, "
                                                                 "toString(first_seen) AS first_seen "
                                                                 "FROM parcours.v_identities")}
    assert {k for k in before if k[0] in ("email", "user_id")} <= set(after)
    linked = {k for k in after if k[0] in ("email", "user_id")}
    assert all(after[k]["person_id"] == before[k]["person_id"] for k in linked)
    # each first came in a link group: its earliest one in event time (the first run's row says the
    # earliest in the batch it was first seen in, which depends on arrival order)
    first_seen = {k: after[k]["first_seen"][11:16] for k in linked}
    assert first_seen == {("user_id", "u-T1"): "08:00", ("user_id", "u-T2"): "14:00", ("user_id", "u-Q1"): "10:10",
                          ("user_id", "u-Q2"): "10:50", next(k for k in linked if k[0] == "email"): "10:00"}


def test_an_identifier_met_earlier_in_a_later_run_is_first_seen_then(tmp_path: Path) -> None:
    """The second file holds an older sighting of a linked email: v_identities says when it
    was first seen in event time, not which run met it first."""
    data_dir = tmp_path / "data"
    runs = {"first": [line("n1", 720, "login", {"anonymous_id": "a-N", "email": "n@n.example"})],
            "second": [line("n0", 540, "page_view", {"email": "n@n.example"}),
                       line("n2", 780, "page_view", {"email": "n@n.example"})]}
    for name, lines in runs.items():
        path = tmp_path / f"{name}.ndjson"
        path.write_bytes(b"\n".join(lines) + b"\n")
        assert run_cli(["replay", str(path)], data_dir).returncode == 0
    rows = query(data_dir, "SELECT kind, toString(first_seen) AS first_seen FROM parcours.v_identities ORDER BY kind")
    assert [(r["kind"], r["first_seen"][11:16]) for r in rows] == [("anonymous_id", "12:00"), ("email", "09:00")]


def test_late_events_of_a_later_replay_join_the_sessions_an_earlier_one_wrote(tmp_path: Path) -> None:
    """Each replay starts the embedded stack, so its sessions stage knows nothing of the
    sessions an earlier run wrote; the clean-up after the replay re-cuts every person whose
    sessions break the gap rule, so the result is that of one replay of both files, and
    replaying a file again changes nothing."""
    data_dir = tmp_path / "data"
    user = {"user_id": "u-late"}
    runs = {"early": [line("c1", 540, "page_view", user), line("c2", 590, "page_view", user),
                      line("c5", 630, "page_view", user)],  # 09:00, 09:50, 10:30: three sessions
            "late": [line("c3", 550, "page_view", user), line("c4", 570, "page_view", user),
                     line("c6", 520, "page_view", user)]}  # 09:10 and 09:30 bridge, 08:40 extends
    sessions = ("SELECT toString(started_at) AS started, toString(ended_at) AS ended, event_count "
                "FROM parcours.v_sessions ORDER BY started_at")
    seen = []
    for name in ("early", "late", "late"):
        path = tmp_path / f"{name}.ndjson"
        path.write_bytes(b"\n".join(runs[name]) + b"\n")
        assert run_cli(["replay", str(path)], data_dir).returncode == 0
        seen.append([(r["started"][11:16], r["ended"][11:16], r["event_count"]) for r in query(data_dir, sessions)])
    assert seen[0] == [("09:00", "09:00", 1), ("09:50", "09:50", 1), ("10:30", "10:30", 1)]
    assert seen[1] == seen[2] == [("08:40", "09:50", 5), ("10:30", "10:30", 1)]
    (row,) = query(data_dir, "SELECT count() AS events, uniqExact(session_id) AS sessions, "
                             "countIf(session_id NOT IN (SELECT session_id FROM parcours.v_sessions)) AS orphans "
                             "FROM parcours.v_events")
    assert row == {"events": 6, "sessions": 2, "orphans": 0}


def test_an_event_whose_anchor_turns_out_shared_follows_an_identifier_of_its_own(tmp_path: Path) -> None:
    """e1 was resolved through the email (its strongest identifier then); the next run finds the
    email shared by two logins, and links e1's cookie to u-2: e1 is u-2's, not a tap."""
    data_dir = tmp_path / "data"
    runs = {"first": [line("e1", 60, "page_view", {"anonymous_id": "a-1", "email": "home@h.example"})],
            "second": [line("e2", 600, "login", {"email": "home@h.example", "user_id": "u-1"}),
                       line("e3", 900, "login", {"email": "home@h.example", "user_id": "u-2"}),
                       line("e4", 1200, "login", {"anonymous_id": "a-1", "user_id": "u-2"})]}
    for name, lines in runs.items():
        path = tmp_path / f"{name}.ndjson"
        path.write_bytes(b"\n".join(lines) + b"\n")
        assert run_cli(["replay", str(path)], data_dir).returncode == 0
    persons = {r["event_id"]: r["person_id"] for r in query(data_dir, "SELECT event_id, person_id FROM parcours.v_events")}
    assert persons["e1"] == persons["e4"] == persons["e3"] != persons["e2"]
    (row,) = query(data_dir, "SELECT count() AS orphans FROM parcours.v_events "
                             "WHERE session_id NOT IN (SELECT session_id FROM parcours.v_sessions)")
    assert row == {"orphans": 0}


def test_a_later_replay_that_re_sends_part_of_a_session_leaves_its_row_whole(tmp_path: Path) -> None:
    """A later replay re-sends one event of a two-event session as it was, and a purchase with a
    corrected time: its sessions stage starts empty, so it writes those sessions again from the
    re-sent events alone. The clean-up re-cuts the persons whose session rows disagree with
    their events (v_sessions said 1 event from 10:10 for a session of 2 from 10:00)."""
    def event(event_id: str, user: str, at: str, kind: str = "page_view", revenue: float = 0.0) -> bytes:
        return orjson.dumps({"event_id": event_id, "event_type": kind, "occurred_at": f"2026-11-03T{at}:00Z",
                             "channel": "web", "identifiers": {"user_id": user},
                             "properties": {"revenue": revenue, "currency": "EUR"} if revenue else {}})

    first = [event("r1", "u-R", "10:00"), event("r2", "u-R", "10:10"),
             event("b1", "u-B", "10:00"), event("b2", "u-B", "10:05", "purchase", 50.0)]
    again = [event("r2", "u-R", "10:10"), event("b2", "u-B", "18:10", "purchase", 50.0)]
    data_dir = tmp_path / "data"
    for name, lines in (("first", first), ("again", again)):
        path = tmp_path / f"{name}.ndjson"
        path.write_bytes(b"\n".join(lines) + b"\n")
        done = run_cli(["replay", str(path)], data_dir, env={"PARCOURS_SESSION_GAP": "30m"})
        assert done.returncode == 0, done.stderr[-3000:]
    from_events = query(data_dir, "SELECT session_id, count() AS n, min(occurred_at) AS first, max(occurred_at) AS last, "
                                  "sumIf(revenue, event_type = 'purchase') AS revenue FROM parcours.v_events "
                                  "GROUP BY session_id ORDER BY session_id")
    rows = query(data_dir, "SELECT session_id, event_count AS n, started_at AS first, ended_at AS last, revenue "
                           "FROM parcours.v_sessions ORDER BY session_id")
    assert rows == from_events
    assert sorted((r["n"], r["revenue"]) for r in rows) == [(1, 0.0), (1, 50.0), (2, 0.0)]  # b2 moved out
