"""Stitching does not depend on arrival order, duplicates, batching or how events are split
between workers: every worker converges to the partition an offline reference computes from
the same events, refusals and shared identifiers included."""

from __future__ import annotations

import random
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.identity import graph as graph_module
from pipeline.identity.graph import IdentityGraph
from pipeline.identity.logic import apply_remote, resolve, wire_links
from pipeline.identity.rules import node_id
from pipeline.ingest.dedupe import RecentIds
from pipeline.taxonomy import identity_kinds

RULES = identity_kinds().rules()
KINDS = sorted(RULES.ranks)

# Few values per kind, so that limits clash and identifiers get shared often.
id_sets = st.dictionaries(st.sampled_from(KINDS), st.integers(0, 3).map(str), min_size=1, max_size=4)
timelines = st.lists(st.tuples(id_sets, st.integers(0, 50)), min_size=1, max_size=30)


def as_events(timeline: list[tuple[dict[str, str], int]]) -> list[dict[str, object]]:
    return [{"event_id": f"e{i:03d}", "identifiers": ids, "occurred_at": t} for i, (ids, t) in enumerate(timeline)]


def keys(event: dict[str, object]) -> set[str]:
    return {f"{k}:{v}" for k, v in event["identifiers"].items()}  # type: ignore[attr-defined]


Refused = set[tuple[str, str, str]]
"""(event id, kept, refused): a link the cut refuses."""


def reference(events: list[dict[str, object]]) -> tuple[dict[str, str], set[str]]:
    person, shared, _ = reference_with_refusals(events)
    return person, shared


def reference_with_refusals(events: list[dict[str, object]]) -> tuple[dict[str, str], set[str], Refused]:
    """Offline, written independently of the streaming code: shared = seen with two values of
    one limited kind, or a device seen with two emails (phones); then one greedy pass over all
    groups in event time (a group seen again is the same link: its first event counts),
    refusing a link that would give a person two values of a limited kind; person = its
    strongest identifier."""
    seen_with: dict[str, dict[str, set[str]]] = {}
    for e in events:
        kinds = {k: k.split(":")[0] for k in keys(e)}
        for k, kind in kinds.items():
            if kind in RULES.limits:
                continue
            for s, other in kinds.items():
                if other in RULES.limits or (kind in RULES.devices and other in RULES.contacts):
                    seen_with.setdefault(k, {}).setdefault(other, set()).add(s)
    bar = {kind: RULES.shared_after for kind in RULES.limits} | {kind: RULES.contacts_after for kind in RULES.contacts}
    shared = {k for k, by_kind in seen_with.items() if any(len(v) >= bar[kind] for kind, v in by_kind.items())}
    nodes = {k for e in events for k in keys(e)} - shared
    label = {k: k for k in nodes}

    def find(k: str) -> str:
        while label[k] != k:
            k = label[k]
        return k

    def limited(root: str) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for k in nodes:
            if find(k) == root and k.split(":")[0] in RULES.limits:
                out.setdefault(k.split(":")[0], set()).add(k)
        return out

    refused: Refused = set()
    groups_seen: set[frozenset[str]] = set()
    for e in sorted(events, key=lambda e: (e["occurred_at"], e["event_id"])):  # type: ignore[arg-type, return-value]
        if frozenset(keys(e)) in groups_seen:
            continue
        groups_seen.add(frozenset(keys(e)))
        live = sorted(keys(e) - shared, key=lambda k: (RULES.rank(k), k))
        for other in live[1:]:
            a, b = find(live[0]), find(other)
            if a == b:
                continue
            la, lb = limited(a), limited(b)
            if any(len(la.get(kind, set()) | lb.get(kind, set())) > n for kind, n in RULES.limits.items()):
                refused.add((str(e["event_id"]), live[0], other))
                continue
            label[b] = a
    groups: dict[str, list[str]] = {}
    for k in nodes:
        groups.setdefault(find(k), []).append(k)
    person = {k: min((RULES.rank(m), node_id(m)) for m in members)[1] for members in groups.values() for k in members}
    person.update({k: node_id(k) for k in shared})
    return person, shared, refused


def run_workers(events: list[dict[str, object]], rnd: random.Random, workers: int, batch: int) -> list[IdentityGraph]:
    arrival = events + rnd.sample(events, k=len(events) // 3)  # duplicates
    rnd.shuffle(arrival)
    graphs = [IdentityGraph(RULES) for _ in range(workers)]
    seen = [RecentIds() for _ in range(workers)]
    published: list[list[object]] = []
    for start in range(0, len(arrival), batch):
        w = (start // batch) % workers
        out = resolve(graphs[w], seen[w], [dict(e) for e in arrival[start:start + batch]])
        published += wire_links(out.changes)
        if rnd.random() < 0.3:  # links reach another worker early, sometimes
            apply_remote(graphs[rnd.randrange(workers)], rnd.sample(published, k=len(published)))
    for g in graphs:  # eventually every worker reads the whole links topic, in its own order
        apply_remote(g, rnd.sample(published, k=len(published)))
    return graphs


@settings(max_examples=250, deadline=None)
@given(timelines, st.randoms(use_true_random=False), st.integers(1, 3), st.integers(1, 6))
def test_any_arrival_order_batching_and_worker_split_gives_the_reference(timeline, rnd, workers, batch) -> None:  # type: ignore[no-untyped-def]
    events = as_events(timeline)
    expected, shared, refused = reference_with_refusals(events)
    for g in run_workers(events, rnd, workers, batch):
        assert g.shared == shared
        assert {k: g.person_of(k) for k in expected} == expected
        # the refusals that stand are the final cut's, not those made on the way
        assert {(r.event_id, r.kept, r.refused) for r in g.refusals} == refused


@settings(max_examples=150, deadline=None)
@given(timelines, st.randoms(use_true_random=False), st.integers(1, 6), st.sampled_from([0, 1, 2]))
def test_large_clusters_find_their_groups_through_the_index(timeline, rnd, batch, scan) -> None:  # type: ignore[no-untyped-def]
    """Clusters of more than SCAN edges are indexed: with SCAN tiny, every path is the index's."""
    events = as_events(timeline)
    expected, shared = reference(events)
    with patch.object(graph_module, "SCAN", scan):
        (g,) = run_workers(events, rnd, 1, batch)
        relearnt = resolve(g, RecentIds(), [dict(e) for e in events])  # every group already seen
    assert g.shared == shared and {k: g.person_of(k) for k in expected} == expected
    assert not relearnt.changes.new_edges


@settings(max_examples=150, deadline=None)
@given(timelines, st.randoms(use_true_random=False), st.integers(1, 5))
def test_every_fact_ends_attributed_to_its_anchors_final_person(timeline, rnd, batch) -> None:  # type: ignore[no-untyped-def]
    """What the views compute: the latest remap of a fact's anchor, else the person written."""
    events = as_events(timeline)
    arrival = list(events)
    rnd.shuffle(arrival)
    g, seen = IdentityGraph(RULES), RecentIds()
    written: dict[str, dict[str, object]] = {}
    identity_rows: list[tuple[str, str, str]] = []
    latest: dict[str, str] = {}
    for start in range(0, len(arrival), batch):
        out = resolve(g, seen, [dict(e) for e in arrival[start:start + batch]])
        for r in out.remaps:
            latest[r.from_person] = r.to_person
        written.update({str(x["event_id"]): x for x in out.events})
        identity_rows += [(k, p, node_id(k)) for k, p, _ in out.new_identifiers]
    final, shared = reference(events)
    for x in written.values():
        live = sorted(keys(x) - shared, key=lambda k: (RULES.rank(k), k))
        current = latest.get(str(x["anchor_id"]), str(x["person_id"]))
        if live and node_id(live[0]) == x["anchor_id"]:
            assert current == final[live[0]]
    for key, person, anchor in identity_rows:
        assert latest.get(anchor, person) == final[key]
