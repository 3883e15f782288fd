"""pipeline.profiles.store: idle profiles are packed, and come back equal when read."""

from __future__ import annotations

import asyncio
import tracemalloc
from types import SimpleNamespace

import orjson

from pipeline.embedded.broker import free_port
from pipeline.http import forward
from pipeline.profiles.state import Profile
from pipeline.profiles.store import ProfileStore

CONVERSIONS = frozenset({"purchase"})


def profile(person: str, n: int = 3) -> Profile:
    p = Profile(person)
    for i in range(n):
        p.add({"event_id": f"{person}-{i}", "occurred_at": 1_000 + i, "identifiers": {"anonymous_id": f"a-{person}"},
               "stage": "purchase", "touchpoint": "checkout", "channel": "web",
               "event_type": "purchase" if i == 1 else "page_view", "revenue": 12.5 * (i == 1)}, CONVERSIONS)
    return p


def test_a_packed_profile_comes_back_equal() -> None:
    original = profile("p1")
    back = Profile.unpack("p1", original.pack())
    assert back == original and orjson.dumps(back) == orjson.dumps(original)
    assert back.last_touchpoints[0][1] is original.last_touchpoints[0][1]  # names stay interned
    assert Profile.__slots__ == (  # type: ignore[attr-defined]  # a new field must be packed too
        "person_id", "identifiers", "stage", "stage_at", "last_touchpoints", "lifetime_revenue", "conversions",
        "conversion_ids", "events", "first_seen", "last_seen", "currency")
    # a record written before the currency was kept (ten fields) still reads
    assert Profile.from_fields("p1", original.fields()[:10]).currency == ""


def test_the_currency_of_lifetime_revenue_is_said_and_mixed_ones_are_not_an_amount() -> None:
    p = Profile("p1")
    order = {"occurred_at": 1, "identifiers": {}, "stage": "purchase", "touchpoint": "checkout",
             "channel": "web", "event_type": "purchase"}
    p.add({**order, "event_id": "o1", "revenue": 50.0, "currency": "EUR"}, CONVERSIONS)
    p.add({**order, "event_id": "o2", "revenue": 0.0, "currency": "USD"}, CONVERSIONS)  # no amount
    assert p.document(None, 0)["currency"] == "EUR"
    other = Profile("p2")
    other.add({**order, "event_id": "o3", "revenue": 30.0, "currency": "USD"}, CONVERSIONS)
    p.absorb(other)
    assert p.document(None, 0)["currency"] == "mixed"  # was: 80 with no currency at all
    assert Profile("p3").document(None, 0)["currency"] is None


def test_settle_keeps_the_most_recently_touched_as_objects() -> None:
    store = ProfileStore(hot=2)
    for person in ("p1", "p2", "p3", "p4"):
        store[person] = profile(person)
    store.settle()
    assert set(store._hot) == {"p3", "p4"} and set(store._packed) == {"p1", "p2"}
    assert len(store) == 4 and "p1" in store and "p9" not in store and store.get("p9") is None
    p1 = store.get("p1")  # read: unpacked and hot again
    assert p1 == profile("p1") and "p1" in store._hot and "p1" not in store._packed
    p1.add({"event_id": "x", "occurred_at": 5_000, "identifiers": {}, "stage": "after", "touchpoint": "survey",
            "channel": "email", "event_type": "page_view", "revenue": 0.0}, CONVERSIONS)
    store.settle()
    assert store["p1"].stage == "after" and store["p1"].events == 4  # a change survives packing
    assert sorted(store) == ["p1", "p2", "p3", "p4"]
    del store["p2"]
    assert store.pop("p3").person_id == "p3" and sorted(store) == ["p1", "p4"]


def test_a_person_the_batch_touched_stays_hot_though_unpacked_long_ago() -> None:
    store = ProfileStore(hot=2)
    for person in ("p1", "p2", "p3"):
        store[person] = profile(person)
    store.settle(touched=["p1"])  # p1 came first, but the last batch changed it
    assert set(store._hot) == {"p1", "p3"} and set(store._packed) == {"p2"}
    store.settle(touched=["p9"])  # a person without a profile here is ignored
    assert set(store._hot) == {"p1", "p3"}


def test_a_packed_profile_holds_its_size_not_a_write_buffer() -> None:
    profiles = [profile(f"p{i}") for i in range(2_000)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        packed = [p.pack() for p in profiles]
        held = (tracemalloc.get_traced_memory()[0] - before) / len(packed)
    finally:
        tracemalloc.stop()
    assert held < 2 * max(len(b) for b in packed) + 64, held  # orjson's own result: ~4 KB each


def test_a_lookup_forwarded_to_an_owner_that_is_gone_is_a_503_to_retry() -> None:
    """A worker leaving: its port refuses connections for a few seconds (was a 500 and a
    traceback per request)."""
    class Replies:
        def json(self, body: dict[str, object], status: int, headers: dict[str, str]) -> tuple[object, ...]:
            return status, body, headers

    request = SimpleNamespace(path="/profiles/user_id/u-1")
    status, body, headers = asyncio.run(forward(Replies(), f"http://127.0.0.1:{free_port()}", request))  # type: ignore[arg-type]
    assert (status, headers) == (503, {"Retry-After": "2"}) and "retry" in body["hint"]  # type: ignore[index]
