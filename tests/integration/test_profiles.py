"""Real-time outputs: profile updates on `parcours.profiles` and `GET /profiles/{kind}/{value}`,
against `parcours up` (broker, workers, chDB and HTTP in one process)."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

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
    documents = published(bootstrap, lambda d: d["type"] == "merge")
    merges = [d for d in documents if d["type"] == "merge"]
    assert merges and all(d["from_person"] != d["person_id"] for d in merges)
    final = get(f"{http}/profiles/user_id/u-10")[1]
    assert any(d["type"] == "profile" and d["person_id"] == final["person_id"] for d in documents)


def test_a_person_split_by_a_shared_kiosk_gets_its_own_profile_again(stack) -> None:  # type: ignore[no-untyped-def]
    """The kiosk glues a customer's email to a loyalty card until a second card shows it is
    shared: the email's person is then its own, and its later events build its own profile."""
    bootstrap, http = stack
    producer = Producer({"bootstrap.servers": bootstrap})

    def send(*lines: bytes) -> None:
        for line in lines:
            producer.produce("parcours.events.raw", line)
        producer.flush(10)

    send(event("k1", 20, "store_visit", "store", {"device_id": "kiosk-7", "loyalty_id": "L-7a"}),
         event("k2", 21, "page_view", "store", {"device_id": "kiosk-7", "email": "kim@example.com"}),
         event("k3", 22, "email_open", "email", {"email": "kim@example.com"}))
    _, glued = wait_for(f"{http}/profiles/email/kim@example.com", lambda s, b: s == 200 and b.get("events") == 3)
    card = glued["person_id"]
    send(event("k4", 30, "store_visit", "store", {"device_id": "kiosk-7", "loyalty_id": "L-7b"}))
    wait_for(f"{http}/profiles/device_id/kiosk-7", lambda s, b: b.get("error") == "shared identifier")
    send(event("k5", 40, "email_click", "email", {"email": "kim@example.com"}))
    status, own = wait_for(f"{http}/profiles/email/kim@example.com",
                           lambda s, b: s == 200 and b.get("person_id") != card)
    assert status == 200 and own["events"] == 1, own  # only what came after the split
    assert [t["touchpoint"] for t in own["last_touchpoints"]] == ["tp-k5"]  # type: ignore[index]
    status, before = get(f"{http}/profiles/loyalty_id/L-7a")
    assert status == 200 and before["person_id"] == card and before["events"] == 3, before
    assert "device_id" not in before["identifiers"], before  # the kiosk is no one's device
    notices = published(bootstrap, lambda d: d["type"] == "split")
    assert {"type": "split", "person_id": own["person_id"], "from_person": card} in \
        [{k: d[k] for k in ("type", "person_id", "from_person")} for d in notices if d["type"] == "split"]


def published(bootstrap: str, until: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    """The documents on `parcours.profiles` from the start, read until one matches `until`."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"test-profiles-{time.monotonic_ns()}",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe(["parcours.profiles"])
    documents: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline and not any(until(d) for d in documents):
            for message in consumer.consume(500, 1.0):
                if message.error() is None and message.value() is not None:
                    document = orjson.loads(message.value())
                    assert message.key().decode() == document["person_id"] or document["type"] == "merge"
                    documents.append(document)
    finally:
        consumer.close()
    return documents


def test_a_lookup_that_cannot_find_anyone_is_a_400_that_says_why(stack) -> None:  # type: ignore[no-untyped-def]
    _, http = stack
    status, body = get(f"{http}/profiles/emial/ann@example.com")
    assert status == 400 and body["error"] == "unknown identifier kind 'emial'"
    assert body["kinds"][0] == "user_id" and "email" in body["hint"]
    for path in ("/profiles/email/", "/profiles/email/%20"):
        status, body = get(f"{http}{path}")
        assert (status, body["error"]) == (400, "no email value given") and body["hint"], path


def test_the_collector_405_names_only_the_methods_it_takes(stack) -> None:  # type: ignore[no-untyped-def]
    _, http = stack
    for method in ("GET", "HEAD"):
        request = urllib.request.Request(f"{http}/v1/track", method=method)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert (refused.value.code, refused.value.headers["Allow"]) == (405, "POST"), method
    assert get(f"{http}/health")[0] == 200  # HEAD stays where GET is
    with urllib.request.urlopen(urllib.request.Request(f"{http}/health", method="HEAD"), timeout=5) as reply:
        assert reply.status == 200
