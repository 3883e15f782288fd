"""A family tablet and a reused email, replayed in an adverse order: the second member's
login comes first in the file, the first member's last. Whatever order the partitions are
read in, the taps must end with the login around them in event time, and no event may be
left in a session the clean-up after the replay retired."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.conftest import query, run_cli

pytestmark = pytest.mark.integration


def line(event_id: str, minute: int, event_type: str, ids: dict[str, str]) -> bytes:
    return orjson.dumps({"event_id": event_id, "event_type": event_type, "channel": "app", "identifiers": ids,
                         "occurred_at": f"2026-11-11T{minute // 60:02d}:{minute % 60:02d}:00Z"})


TABLET = {  # T1 logs in at 08:00 and taps twice; T2 logs in at 14:00 and taps once
    "t1": line("t1", 480, "login", {"device_id": "d-T", "user_id": "u-T1"}),
    "t2": line("t2", 485, "product_view", {"device_id": "d-T"}),
    "t3": line("t3", 490, "product_view", {"device_id": "d-T"}),
    "t4": line("t4", 840, "login", {"device_id": "d-T", "user_id": "u-T2"}),
    "t5": line("t5", 845, "product_view", {"device_id": "d-T"}),
}
REUSED_EMAIL = {  # q@q first seen with Q1's cookie; Q2 later logs in with it (refused)
    "q0": line("q0", 600, "page_view", {"anonymous_id": "a-Q", "email": "q@q.example"}),
    "q50": line("q50", 650, "login", {"email": "q@q.example", "user_id": "u-Q2"}),
    "q60": line("q60", 660, "page_view", {"anonymous_id": "a-Q"}),
    "q61": line("q61", 661, "email_open", {"email": "q@q.example"}),
    "q10": line("q10", 610, "login", {"anonymous_id": "a-Q", "user_id": "u-Q1"}),
}


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shared")
    data_dir = root / "data"
    adverse = ["t4", "t2", "t5", "q0", "q50", "q60", "q61", "q10", "t3", "t1"]
    path = root / "adverse.ndjson"
    path.write_bytes(b"\n".join({**TABLET, **REUSED_EMAIL}[e] for e in adverse) + b"\n")
    done = run_cli(["replay", str(path)], data_dir, env={"PARCOURS_SESSION_GAP": "30m"})
    assert done.returncode == 0, done.stderr[-3000:]
    return data_dir


def logins_of_persons(data_dir: Path) -> dict[str, str]:
    rows = query(data_dir, "SELECT e.event_id AS event_id, i.value AS user FROM parcours.v_events AS e "
                           "LEFT JOIN (SELECT person_id, value FROM parcours.v_identities WHERE kind = 'user_id') AS i "
                           "USING person_id")
    return {r["event_id"]: r["user"] for r in rows}


def test_taps_on_the_family_tablet_go_to_the_login_around_them(replayed: Path) -> None:
    users = logins_of_persons(replayed)
    assert {e: users[e] for e in TABLET} == {"t1": "u-T1", "t2": "u-T1", "t3": "u-T1", "t4": "u-T2", "t5": "u-T2"}
    rows = query(replayed, "SELECT groupArray(event_id) AS events FROM parcours.v_events "
                           "WHERE event_id LIKE 't%' GROUP BY session_id")
    assert sorted(sorted(r["events"]) for r in rows) == [["t1", "t2", "t3"], ["t4", "t5"]]


def test_a_refused_link_leaves_every_event_in_a_live_session(replayed: Path) -> None:
    users = logins_of_persons(replayed)
    assert {e: users[e] for e in REUSED_EMAIL} == {"q0": "u-Q1", "q10": "u-Q1", "q50": "u-Q2", "q60": "u-Q1",
                                                   "q61": "u-Q1"}
    (row,) = query(replayed, "SELECT count() AS events, "
                             "countIf(session_id NOT IN (SELECT session_id FROM parcours.v_sessions)) AS orphans, "
                             "(SELECT sum(event_count) FROM parcours.v_sessions) AS in_sessions FROM parcours.v_events")
    assert row == {"events": 10, "orphans": 0, "in_sessions": 10}
