"""An erasure leaves the graph as if the erased identifiers had never been in any event: the
same identifiers and persons as a graph built from the events without them (when both agree
on which identifiers are shared: an erasure keeps a kiosk shared on purpose)."""

from __future__ import annotations

import random

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pipeline.identity.graph import IdentityGraph
from pipeline.identity.logic import resolve
from pipeline.ingest.dedupe import RecentIds
from tests.property.test_identity_order import RULES, as_events, keys, timelines


def build(events: list[dict[str, object]], rnd: random.Random, batch: int) -> IdentityGraph:
    g, seen = IdentityGraph(RULES), RecentIds()
    arrival = list(events)
    rnd.shuffle(arrival)
    for start in range(0, len(arrival), batch):
        resolve(g, seen, [dict(e) for e in arrival[start:start + batch]])
    return g


def without(events: list[dict[str, object]], erased: set[str]) -> list[dict[str, object]]:
    out = []
    for e in events:
        ids = {k: v for k, v in e["identifiers"].items() if f"{k}:{v}" not in erased}  # type: ignore[attr-defined]
        if ids:
            out.append({**e, "identifiers": ids})
    return out


@settings(max_examples=250, deadline=None)
@given(timelines, st.randoms(use_true_random=False), st.integers(1, 6), st.data())
def test_forget_is_as_if_never_seen(timeline, rnd, batch, data) -> None:  # type: ignore[no-untyped-def]
    events = as_events(timeline)
    known = sorted({k for e in events for k in keys(e)})
    erased = set(data.draw(st.lists(st.sampled_from(known), min_size=1, max_size=3)))
    g = build(events, rnd, batch)
    g.forget(sorted(erased))
    fresh = build(without(events, erased), rnd, batch)
    assert all(k not in g for k in erased)
    assert g.forget(sorted(erased)).remaps == []
    assume(g.shared == fresh.shared)
    rest = sorted(set(known) - erased)
    assert (len(g), g.persons) == (len(fresh), fresh.persons)
    assert {k: g.person_of(k) for k in rest} == {k: fresh.person_of(k) for k in rest}
    assert {k: g.members(k) for k in rest} == {k: fresh.members(k) for k in rest}
    again = resolve(g, RecentIds(), [dict(e) for e in without(events, erased)])  # relearning changes nothing
    assert not again.changes.new_edges and not again.remaps
