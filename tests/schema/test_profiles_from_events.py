"""The profile computed in ClickHouse from recorded events (pipeline/profiles/sql/profiles.sql,
used when `parcours up` starts on a broker that kept nothing) is the profile the sessions stage
builds event by event (Profile.add): same identifiers (shared ones left out), stage,
touchpoints, conversions, caps, and persons as the views name them after a merge."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from pipeline.facts.tables import to_arrow
from pipeline.profiles.history import recorded
from pipeline.profiles.state import MAX_CONVERSION_IDS, MAX_TOUCHPOINTS, MAX_VALUES_PER_KIND, Profile
from tests.conftest import empty

CONVERSIONS = frozenset({"purchase", "subscription"})
TYPES = ["page_view", "product_view", "purchase", "subscription", "support_call"]
STAGES = ["before", "during", "after"]
BASE_MS = 1_793_000_000_000


def events(seed: int) -> list[dict[str, Any]]:
    """Events of a few anchors; timestamps distinct per person (a tie's order is arrival's)."""
    rng = random.Random(seed)
    out = []
    for n in range(400):
        anchor = f"a{rng.randrange(6)}"
        conversion = rng.random() < 0.3
        out.append({
            "event_id": f"e{seed}-{n}", "occurred_at": BASE_MS + rng.randrange(20 * 86_400) * 1000 + n,
            "person_id": f"p-{anchor}", "anchor_id": anchor, "session_id": f"s{n}",
            "event_type": rng.choice(sorted(CONVERSIONS)) if conversion else rng.choice(TYPES),
            "channel": rng.choice(["web", "app", "store"]), "touchpoint": f"tp{rng.randrange(9)}",
            "stage": rng.choice(STAGES), "revenue": round(rng.uniform(1, 90), 2) if conversion else 0.0,
            "currency": rng.choice(["EUR"] * 12 + ["USD", ""]), "order_id": "", "csat": None, "nps": None,
            "identifiers": {"anonymous_id": f"c-{anchor}-{rng.randrange(14)}", "user_id": f"u-{anchor}"},
            "properties": "{}", "context": "{}", "ingested_at": BASE_MS,
        })
    return out


def live(rows: list[dict[str, Any]], person_of: dict[str, str], shared: set[tuple[str, str]]) -> dict[str, Profile]:
    """What the sessions stage holds: every event added in event time to its person's profile,
    without the identifiers known to be shared."""
    profiles: dict[str, Profile] = {}
    for event in sorted(rows, key=lambda e: e["occurred_at"]):
        person = person_of.get(event["anchor_id"], event["person_id"])
        own = {kind: value for kind, value in event["identifiers"].items() if (kind, value) not in shared}
        profiles.setdefault(person, Profile(person)).add(dict(event, person_id=person, identifiers=own), CONVERSIONS)
    return profiles


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_profile_from_clickhouse_is_the_one_built_event_by_event(clickhouse: Any, seed: int) -> None:
    empty(clickhouse)
    rows = events(seed)
    clickhouse.insert_arrow("parcours.events", to_arrow("events", rows))
    clickhouse.insert_arrow("parcours.events", to_arrow("events", rows[:50]))  # re-delivered: counted once
    merged_at = datetime(2026, 11, 3, tzinfo=UTC)
    clickhouse.insert("parcours.person_merges", [["a1", "p-a0", "link", "e-x", merged_at, 1]],
                      column_names=["from_person", "to_person", "reason", "event_id", "merged_at", "version"])
    kiosk = ("anonymous_id", rows[0]["identifiers"]["anonymous_id"])  # seen with others since: not theirs
    clickhouse.insert("parcours.identity_shared", [[*kiosk, f"{kiosk[0]}:{kiosk[1]}", merged_at]],
                      column_names=["kind", "value", "anchor_id", "marked_at"])
    expected = live(rows, {"a1": "p-a0"}, {kiosk})
    got = {p.person_id: p for p in recorded(clickhouse, CONVERSIONS)}
    assert sorted(got) == sorted(expected)
    assert "p-a1" not in got  # its events are p-a0's now
    for person, want in expected.items():
        have = got[person]
        assert have.identifiers == want.identifiers, person
        assert (have.stage, have.stage_at) == (want.stage, want.stage_at)
        assert have.last_touchpoints == want.last_touchpoints
        assert (have.conversions, have.events) == (want.conversions, want.events)
        assert have.lifetime_revenue == pytest.approx(want.lifetime_revenue)
        assert have.currency == want.currency, person
        assert have.conversion_ids == pytest.approx(want.conversion_ids)
        assert list(have.conversion_ids) == list(want.conversion_ids)  # oldest first: the next one evicts it
        assert (have.first_seen, have.last_seen) == (want.first_seen, want.last_seen)
    merged = got["p-a0"]
    assert len(merged.identifiers["anonymous_id"]) == MAX_VALUES_PER_KIND  # two anchors' cookies, capped
    assert len(merged.last_touchpoints) == MAX_TOUCHPOINTS
    assert len(merged.conversion_ids) == MAX_CONVERSION_IDS < merged.conversions
