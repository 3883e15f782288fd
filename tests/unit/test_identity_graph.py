"""Identity graph: links, merges, deterministic person ids, remaps of handed-out ids."""

from __future__ import annotations

from pipeline.identity.graph import IdentityGraph, node_id
from pipeline.identity.logic import apply_remote, resolve
from pipeline.ingest.dedupe import RecentIds
from pipeline.taxonomy import identity_kinds

RANKS = identity_kinds().ranks


def graph() -> IdentityGraph:
    return IdentityGraph(RANKS)


def event(event_id: str, **ids: str) -> dict[str, object]:
    return {"event_id": event_id, "identifiers": ids, "occurred_at": 0}


def test_person_is_named_by_its_strongest_identifier() -> None:
    g = graph()
    g.link(["anonymous_id:a1", "device_id:d1"])
    assert g.person_of("anonymous_id:a1") == node_id("device_id:d1")  # device outranks cookie
    g.link(["device_id:d1", "user_id:u1"])
    assert g.person_of("anonymous_id:a1") == node_id("user_id:u1")


def test_anonymous_device_that_logs_in_joins_the_users_person() -> None:
    g = graph()
    first = resolve(g, RecentIds(), [event("e1", anonymous_id="a1")])
    anon_person = first.events[0]["person_id"]
    login = resolve(g, RecentIds(), [event("e2", anonymous_id="a1", user_id="u1")])
    user_person = node_id("user_id:u1")
    assert login.events[0]["person_id"] == user_person
    assert [(r.from_person, r.to_person) for r in login.remaps] == [(anon_person, user_person)]
    assert login.remaps[0].reason == "stronger_identifier"


def test_two_persons_merge_and_every_handed_out_id_is_remapped() -> None:
    g, seen = graph(), RecentIds()
    a = resolve(g, seen, [event("e1", device_id="d1")]).events[0]["person_id"]
    b = resolve(g, seen, [event("e2", email="h1")]).events[0]["person_id"]
    c = resolve(g, seen, [event("e3", device_id="d1", email="h1")]).events[0]["person_id"]
    assert c == b  # email outranks device
    assert {r.from_person for r in g_remaps(g, "email:h1", "user_id:u9")} == {a, b}


def g_remaps(g: IdentityGraph, *keys: str) -> list:  # type: ignore[type-arg]
    return g.link(list(keys), "e-final")[0]


def test_new_identifiers_report_the_person_at_the_end_of_the_batch() -> None:
    g = graph()
    out = resolve(g, RecentIds(), [event("e1", anonymous_id="a1"), event("e2", anonymous_id="a1", user_id="u1")])
    assert {n.person_id for n, _ in out.new_identifiers} == {node_id("user_id:u1")}
    assert out.remaps == []  # nothing was handed out before the login in this batch


def test_duplicates_are_dropped_before_stitching() -> None:
    g, seen = graph(), RecentIds()
    out = resolve(g, seen, [event("e1", device_id="d1"), event("e1", device_id="d1")])
    assert len(out.events) == 1 and out.duplicates == 1


def test_only_links_that_changed_the_graph_are_published() -> None:
    g = graph()
    out = resolve(g, RecentIds(), [event("e1", device_id="d1", user_id="u1"), event("e2", device_id="d1", user_id="u1")])
    assert [link[0] for link in out.links] == ["e1"]


def test_remote_links_merge_like_local_ones() -> None:
    local, remote = graph(), graph()
    out = resolve(local, RecentIds(), [event("e1", device_id="d1")])
    resolve(remote, RecentIds(), [event("e2", device_id="d1", user_id="u1")])
    remaps = apply_remote(local, [["e2", ["device_id:d1", "user_id:u1"]]])
    assert [(r.from_person, r.to_person) for r in remaps] == [(out.events[0]["person_id"], node_id("user_id:u1"))]
    assert local.person_of("device_id:d1") == remote.person_of("device_id:d1")
