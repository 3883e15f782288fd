"""Profiles outlive the process that built them: `parcours up` after a replay, or after another
`up`, on the embedded broker (which keeps nothing), answers lookups for every customer already
seen, without a new event (the state is read when the partition is assigned, not at its first
batch), for linked identifiers and for ones never seen with another (in no link group); and
the profiles topic, which its consumers read as the table of current profiles, holds them
again."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote

import orjson
import pytest
from confluent_kafka import Consumer, Producer

from pipeline.topics import topics
from tests.conftest import query, run_cli
from tests.integration.up_process import event, get, parcours_up, wait_for

pytestmark = pytest.mark.integration


def profiles_on_topic(bootstrap: str, persons: set[str], seconds: float = 30) -> dict[str, dict[str, object]]:
    """The latest profile document of each of `persons` on `parcours.profiles`, read from the start."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "test-restored-profiles",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe(["parcours.profiles"])
    found: dict[str, dict[str, object]] = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not persons <= found.keys():
        for message in consumer.consume(500, 1.0):
            if message.error() is None and message.value():
                document = orjson.loads(message.value())
                if document.get("type") == "profile":
                    found[document["person_id"]] = document
    consumer.close()
    return found


def test_profiles_survive_a_replay_then_two_ups(data_dir: Path, tmp_path: Path) -> None:
    lines = [
        event("r1", 0, "product_view", "web", {"anonymous_id": "cookie-7"}),
        event("r2", 2, "login", "web", {"anonymous_id": "cookie-7", "user_id": "u-7", "email": " Eve.Moss@Example.com"}),
        event("r3", 5, "purchase", "web", {"user_id": "u-7"}, revenue=30.0),
        event("r4", 9, "support_call", "call_center", {"phone": "06 55 44 33 22", "email": "eve.moss@example.com"}),
        event("r5", 1, "page_view", "web", {"anonymous_id": "lone-cookie"}),
        event("r6", 3, "page_view", "app", {"anonymous_id": "lone-cookie"}),
        event("r8", 4, "login", "app", {"device_id": "family-tablet", "user_id": "u-8"}),
        event("r9", 6, "login", "app", {"device_id": "family-tablet", "user_id": "u-9"}),
    ]
    source = tmp_path / "events.ndjson"
    source.write_bytes(b"\n".join(lines) + b"\n")
    done = run_cli(["replay", str(source)], data_dir)
    assert done.returncode == 0, done.stderr[-2000:]

    with parcours_up(data_dir) as (bootstrap, http):
        before_up = (data_dir / "up.log").read_text().split("Parcours is up")[0]
        for partition in range(topics().by_person.partitions):  # `up` says so once it can answer
            assert f"sessions partition {partition} restored" in before_up, before_up[-2000:]
        status, eve = get(f"{http}/profiles/email/EVE.MOSS@example.com")
        assert status == 200, eve
        assert (eve["events"], eve["conversions"], eve["lifetime_revenue"]) == (4, 1, 30.0)
        assert eve["stage"] == "service" and eve["last_touchpoints"][-1]["touchpoint"] == "tp-r4"
        assert set(eve["identifiers"]) == {"anonymous_id", "user_id", "email", "phone"}
        for kind, value in [("user_id", "u-7"), ("anonymous_id", "cookie-7"), ("phone", "+33655443322")]:
            assert get(f"{http}/profiles/{kind}/{value}")[1]["person_id"] == eve["person_id"], kind
        status, lone = get(f"{http}/profiles/anonymous_id/lone-cookie")
        assert status == 200 and lone["events"] == 2 and lone["person_id"] != eve["person_id"], lone
        status, unknown = get(f"{http}/profiles/user_id/nobody")
        assert (status, unknown.get("error")) == (404, "unknown identifier")
        status, tablet = get(f"{http}/profiles/device_id/family-tablet")  # whose? both logins'
        assert (status, tablet.get("error")) == (404, "shared identifier"), tablet
        assert get(f"{http}/profiles/user_id/u-8")[1]["events"] == 1

        published = profiles_on_topic(bootstrap, {eve["person_id"], lone["person_id"]})
        assert published[eve["person_id"]]["events"] == 4 and published[lone["person_id"]]["events"] == 2

        producer = Producer({"bootstrap.servers": bootstrap})  # a new event adds to the restored profile
        producer.produce("parcours.events.raw", event("r7", 20, "purchase", "store", {"user_id": "u-7"}, revenue=20.0))
        producer.flush(10)
        del producer  # it would keep calling the broker this `up` stops
        status, eve = wait_for(f"{http}/profiles/user_id/u-7", lambda s, b: s == 200 and b.get("events") == 5)
        assert (eve["events"], eve["conversions"], eve["lifetime_revenue"]) == (5, 2, 50.0), eve

    with parcours_up(data_dir) as (_, http):  # what the first `up` added is kept too
        status, again = get(f"{http}/profiles/phone/{quote('06 55 44 33 22')}")
        assert status == 200, again
        assert (again["events"], again["conversions"], again["lifetime_revenue"]) == (5, 2, 50.0)
        assert again["last_touchpoints"][-1]["touchpoint"] == "tp-r7"
    # r7 (10:20) came 11 minutes after r4, across a restart of `up`: the session the replay wrote
    # was restored with the profile, so r7 went on in it rather than starting a second one
    sessions = query(data_dir, "SELECT event_count, revenue FROM parcours.v_sessions "
                               f"WHERE person_id = '{again['person_id']}'")
    assert sessions == [{"event_count": 5, "revenue": 50.0}], sessions


def test_events_acknowledged_just_before_ctrl_c_are_not_lost(tmp_path: Path) -> None:
    """The embedded broker keeps its topics in memory: `up` stops only once what it holds is in
    ClickHouse (an audit lost 430 of 3 361 events sent at 300/s, Ctrl-C after 10 s)."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    count = 3_000
    with parcours_up(data_dir) as (bootstrap, _):
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
        for i in range(count):
            producer.produce("parcours.events.raw", event(f"k-{i}", i % 60, "page_view", "web",
                                                         {"anonymous_id": f"a-k{i % 400}"}))
        assert producer.flush(30) == 0  # every one acknowledged; Ctrl-C follows at once
    (row,) = query(data_dir, "SELECT count() AS n FROM parcours.v_events WHERE startsWith(event_id, 'k-')")
    assert row["n"] == count
