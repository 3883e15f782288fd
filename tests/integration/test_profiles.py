"""Real-time outputs: profile updates on `parcours.profiles` and `GET /profiles/{kind}/{value}`,
against `parcours up` (broker, workers, chDB and HTTP in one process)."""

from __future__ import annotations

import time

import orjson
import pytest
from confluent_kafka import Consumer, Producer

from tests.integration.up_process import event, get, parcours_up, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with parcours_up(tmp_path_factory.mktemp("up")) as (bootstrap, http):
        yield bootstrap, http


def test_profile_by_any_identifier_follows_logins_and_purchases(stack) -> None:  # type: ignore[no-untyped-def]
    bootstrap, http = stack
    producer = Producer({"bootstrap.servers": bootstrap})
    for line in [
        event("p1", 0, "product_view", "web", {"anonymous_id": "cookie-9"}),
        event("p2", 2, "login", "web", {"anonymous_id": "cookie-9", "user_id": "u-9", "email": " Ann.Lee@Example.com"}),
        event("p3", 5, "purchase", "web", {"user_id": "u-9"}, revenue=30.0),
        event("p4", 6, "support_call", "call_center", {"phone": "06 11 22 33 44", "email": "ann.lee@example.com"}),
    ]:
        producer.produce("parcours.events.raw", line)
    producer.flush(10)
    status, body = wait_for(f"{http}/profiles/email/ANN.LEE@example.com",
                            lambda s, b: s == 200 and b.get("events") == 4)
    assert status == 200, body
    assert body["lifetime_revenue"] == 30.0 and body["conversions"] == 1 and body["stage"] == "service"
    assert [t["touchpoint"] for t in body["last_touchpoints"]][-2:] == ["tp-p3", "tp-p4"]  # type: ignore[index]
    assert "ann.lee" not in orjson.dumps(body).decode().lower()  # identifiers are hashed
    for kind, value in [("user_id", "u-9"), ("anonymous_id", "cookie-9"), ("phone", "+33611223344")]:
        other = get(f"{http}/profiles/{kind}/{value}")
        assert other == (200, {**body, "updated_at": other[1].get("updated_at")}), kind
    assert get(f"{http}/profiles/user_id/nobody")[0] == 404


def test_profile_updates_and_merge_notices_are_published(stack) -> None:  # type: ignore[no-untyped-def]
    bootstrap, http = stack
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce("parcours.events.raw", event("m1", 10, "page_view", "web", {"device_id": "tab-1"}))
    producer.flush(10)
    wait_for(f"{http}/profiles/device_id/tab-1", lambda s, b: s == 200)
    producer.produce("parcours.events.raw", event("m2", 12, "login", "app", {"device_id": "tab-1", "user_id": "u-10"}))
    producer.flush(10)
    wait_for(f"{http}/profiles/device_id/tab-1", lambda s, b: s == 200 and b.get("events") == 2)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "test-profiles",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe(["parcours.profiles"])
    documents = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(d["type"] == "merge" for d in documents):
        for message in consumer.consume(500, 1.0):
            if message.error() is None:
                document = orjson.loads(message.value())
                assert message.key().decode() == document["person_id"] or document["type"] == "merge"
                documents.append(document)
    consumer.close()
    merges = [d for d in documents if d["type"] == "merge"]
    assert merges and all(d["from_person"] != d["person_id"] for d in merges)
    final = get(f"{http}/profiles/user_id/u-10")[1]
    assert any(d["type"] == "profile" and d["person_id"] == final["person_id"] for d in documents)
