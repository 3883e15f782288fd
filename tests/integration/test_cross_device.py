"""A hand-built omnichannel journey: two devices, a login on each, a store visit with a
loyalty card and a differently spelled email, a call, a late mobile event, a Segment-spec
order, and a stranger. The expected persons and sessions are worked out by hand below."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.conftest import query, run_cli

pytestmark = pytest.mark.integration


def line(event_id: str, minute: int, event_type: str, channel: str, ids: dict[str, str],
         **properties: object) -> bytes:
    day, rest = divmod(minute, 24 * 60)
    return orjson.dumps({
        "event_id": event_id, "event_type": event_type, "channel": channel, "identifiers": ids,
        "occurred_at": f"2026-11-{3 + day:02d}T{rest // 60:02d}:{rest % 60:02d}:00.000Z",
        "properties": properties,
    })


JOURNEY = [
    # Jane, phone (anonymous), in the morning
    line("j1", 600, "ad_click", "ads", {"anonymous_id": "ph-cookie", "device_id": "jane-phone"}),
    line("j2", 605, "product_view", "web", {"anonymous_id": "ph-cookie"}),
    # Jane on her laptop, anonymous, then she logs in there
    line("j3", 610, "product_view", "web", {"anonymous_id": "lap-cookie"}),
    line("j4", 612, "login", "web", {"anonymous_id": "lap-cookie", "user_id": "u-jane",
                                     "email": " Jane.Doe@Example.com"}),
    # back on the phone: login links the phone to the same person, and she buys
    line("j5", 615, "login", "app", {"device_id": "jane-phone", "user_id": "u-jane"}),
    # a Segment-spec order from the phone's web view
    orjson.dumps({"type": "track", "messageId": "j6", "event": "Order Completed", "anonymousId": "ph-cookie",
                  "timestamp": "2026-11-03T10:20:00.000Z", "properties": {"revenue": 80.5, "order_id": "O-1"}}),
    # three days later: store visit with her loyalty card and her email spelled differently
    line("j7", 3 * 1440 + 900, "store_visit", "store", {"loyalty_id": "L-jane", "email": "jane.doe@example.com "}),
    line("j8", 3 * 1440 + 910, "purchase", "store", {"loyalty_id": "L-jane"}, revenue=20.0),
    # then she calls from her phone number (only the phone identifies her) ...
    line("j9", 3 * 1440 + 930, "support_call", "call_center", {"phone": "06 12 34 56 78", "crm_id": "C-77"}),
    # ... which the CRM links to her email in a later survey
    line("j10", 3 * 1440 + 1000, "survey_response", "survey", {"crm_id": "C-77", "email": "JANE.DOE@EXAMPLE.COM"},
         csat=4, nps=9),
    # a late mobile event (phone offline on day 1), arriving last: joins the morning session
    line("j11", 625, "product_view", "app", {"device_id": "jane-phone"}),
    # a stranger
    line("s1", 700, "page_view", "web", {"anonymous_id": "stranger"}),
]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("journey")
    path = root / "journey.ndjson"
    path.write_bytes(b"\n".join(JOURNEY) + b"\n")
    data_dir = root / "data"
    done = run_cli(["replay", str(path)], data_dir, env={"PARCOURS_SESSION_GAP": "30m"})
    assert done.returncode == 0, done.stderr[-3000:]
    return data_dir


def test_one_person_across_devices_channels_and_spellings(replayed: Path) -> None:
    rows = query(replayed, "SELECT event_id, person_id FROM parcours.v_events ORDER BY event_id")
    person = {r["event_id"]: r["person_id"] for r in rows}
    jane = {person[e] for e in person if e.startswith("j")}
    assert len(jane) == 1 and person["s1"] not in jane
    (ids,) = query(replayed, "SELECT uniqExact(person_id) AS persons, count() AS identifiers FROM parcours.v_identities")
    # ph-cookie, jane-phone, lap-cookie, u-jane, email, L-jane, phone, C-77, stranger
    assert ids == {"persons": 2, "identifiers": 9}


def test_sessions_follow_the_person_across_devices(replayed: Path) -> None:
    rows = query(replayed, "SELECT session_id, groupArray(event_id) AS events FROM parcours.v_events "
                           "GROUP BY session_id")
    sessions = sorted(sorted(r["events"]) for r in rows)
    assert sessions == sorted([
        sorted(["j1", "j2", "j3", "j4", "j5", "j6", "j11"]),  # 10:00-10:25, phone + laptop
        ["j7", "j8", "j9"],  # store 15:00, purchase 15:10, call 15:30
        ["j10"],  # survey 16:40: more than 30 min later
        ["s1"],
    ])


def test_session_facts_in_v_sessions(replayed: Path) -> None:
    rows = query(replayed, "SELECT event_count, channels, converted, revenue, started_at, ended_at "
                           "FROM parcours.v_sessions ORDER BY started_at")
    morning = rows[0]
    assert morning["event_count"] == 7 and morning["converted"] == 1 and morning["revenue"] == 80.5
    assert set(morning["channels"]) == {"ads", "web", "app"}
    assert morning["started_at"].startswith("2026-11-03T10:00") and morning["ended_at"].startswith("2026-11-03T10:25")
    assert sum(r["revenue"] for r in rows) == pytest.approx(100.5)


def test_identity_show_explains_the_person_from_a_raw_email(replayed: Path) -> None:
    shown = run_cli(["identity", "show", "email", "JANE.doe@example.com"], replayed)
    assert shown.returncode == 0, shown.stderr
    assert "9 identifier" not in shown.stdout  # the stranger is not part of Jane
    for expected in ("user_id", "u-jane", "loyalty_id", "L-jane", "crm_id", "C-77", "device_id", "jane-phone",
                     "linked by", "j4", "j7", "j9", "j10"):
        assert expected in shown.stdout, expected
    assert "jane.doe@example.com" not in shown.stdout.lower()  # shown hashed
    unknown = run_cli(["identity", "show", "user_id", "nobody"], replayed)
    assert unknown.returncode == 2 and "hint" in unknown.stderr


def test_identity_stats_match_clickhouse(replayed: Path) -> None:
    stats = run_cli(["identity", "stats"], replayed)
    assert stats.returncode == 0, stats.stderr
    (row,) = query(replayed, "SELECT * FROM parcours.v_identity_stats")
    assert row["persons"] == 2 and row["identifiers"] == 9 and row["refusals"] == 0
    for name, value in row.items():
        assert f"{name.replace('_', ' ')}" in stats.stdout and f"{value:,}" in stats.stdout
