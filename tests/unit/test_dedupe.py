"""pipeline.ingest.dedupe.RecentIds: first-time detection in bounded memory."""

from __future__ import annotations

from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.ingest import dedupe
from pipeline.ingest.dedupe import RecentIds


def test_first_time_then_repeat() -> None:
    seen = RecentIds(capacity=10)
    assert seen.first_time("a") is True
    assert seen.first_time("a") is False
    assert seen.first_time("a") is False
    assert seen.first_time("b") is True
    assert seen.first_time("b") is False
    assert seen.first_time("a") is False


def test_distinct_ids_are_all_first_time() -> None:
    seen = RecentIds(capacity=100)
    assert all(seen.first_time(f"e-{i}") for i in range(50))
    assert not any(seen.first_time(f"e-{i}") for i in range(50))


def test_ids_are_compared_exactly() -> None:
    seen = RecentIds(capacity=10)
    assert seen.first_time("E-1")
    assert seen.first_time("e-1")
    assert seen.first_time("e-1 ")
    assert not seen.first_time("E-1")


def test_rotation_keeps_the_last_capacity_ids() -> None:
    capacity = 5
    for n in range(1, 60):
        fresh = RecentIds(capacity=capacity)
        for i in range(n):
            assert fresh.first_time(f"id-{i}")
        # the last `capacity` ids offered are all still remembered
        for i in range(max(0, n - capacity), n):
            assert fresh.first_time(f"id-{i}") is False, (n, i)


def test_each_id_remembered_for_at_least_capacity_later_ids() -> None:
    capacity = 7
    seen = RecentIds(capacity=capacity)
    for i in range(200):
        assert seen.first_time(f"id-{i}")
        # the id offered `capacity` new ids ago is still a repeat
        if i >= capacity:
            assert seen.first_time(f"id-{i - capacity}") is False


def test_old_ids_are_eventually_forgotten() -> None:
    seen = RecentIds(capacity=3)
    seen.first_time("first")
    for i in range(10):
        seen.first_time(f"id-{i}")
    assert seen.first_time("first") is True  # outside the window: memory is bounded


def test_memory_bound() -> None:
    capacity = 4
    seen = RecentIds(capacity=capacity)
    for i in range(1000):
        seen.first_time(f"id-{i}")
        seen.first_time(f"id-{i // 2}")  # a mix of repeats and re-offers
        assert len(seen.young) <= capacity
        assert len(seen.young) + len(seen.old) <= 2 * capacity


@settings(max_examples=300, deadline=None)
@given(capacity=st.integers(min_value=1, max_value=8),
       offers=st.lists(st.integers(min_value=0, max_value=30), max_size=200))
def test_against_a_model(capacity: int, offers: list[int]) -> None:
    """Never seen -> True; among the last `capacity` accepted before it -> False; bounded."""
    check_against_model(RecentIds(capacity=capacity), offers)


@settings(max_examples=300, deadline=None)
@given(capacity=st.integers(min_value=1, max_value=12), generation=st.integers(min_value=1, max_value=5),
       offers=st.lists(st.integers(min_value=0, max_value=40), max_size=300))
def test_against_a_model_with_several_old_generations(capacity: int, generation: int, offers: list[int]) -> None:
    with patch.object(dedupe, "GENERATION", generation):
        seen = RecentIds(capacity=capacity)
    assert seen.size <= generation
    check_against_model(seen, offers)


def test_the_young_set_holds_one_generation_and_the_window_the_capacity() -> None:
    with patch.object(dedupe, "GENERATION", 100):
        seen = RecentIds(capacity=1000)
    for i in range(5000):
        assert seen.first_time(f"id-{i}")
        assert len(seen.young) <= 100 and len(seen.old) <= 1000
    assert len(seen.generations) == 10 and list(seen.old) == sorted(seen.old)
    assert not any(seen.first_time(f"id-{i}") for i in range(4000, 5000))


def check_against_model(seen: RecentIds, offers: list[int]) -> None:
    capacity = seen.capacity
    accepted: list[str] = []
    for n in offers:
        event_id = f"e-{n}"
        first = seen.first_time(event_id)
        if event_id not in accepted:
            assert first is True
        elif event_id in accepted[-(capacity + 1):]:
            # itself plus up to `capacity` newer ids: must still be remembered
            assert first is False
        if first:
            accepted.append(event_id)
        assert len(seen.young) + len(seen.old) <= 2 * capacity
