"""Identity graph: links, merges, limits, shared identifiers, deterministic ids, remaps."""

from __future__ import annotations

from pipeline.identity.graph import IdentityGraph
from pipeline.identity.logic import apply_remote, group_of, resolve, wire_links
from pipeline.identity.rules import node_id, own_person
from pipeline.ingest.dedupe import RecentIds
from pipeline.taxonomy import identity_kinds

RULES = identity_kinds().rules()


def graph() -> IdentityGraph:
    return IdentityGraph(RULES)


def event(event_id: str, t: int = 0, **ids: str) -> dict[str, object]:
    return {"event_id": event_id, "identifiers": ids, "occurred_at": t}


def persons(g: IdentityGraph, *keys: str) -> list[str]:
    return [g.person_of(k) for k in keys]


def test_person_is_named_by_its_strongest_identifier() -> None:
    g = graph()
    g.apply([(frozenset({"anonymous_id:a1", "device_id:d1"}), (1, "e1"))])
    assert g.person_of("anonymous_id:a1") == node_id("device_id:d1")  # device outranks cookie
    g.apply([(frozenset({"device_id:d1", "user_id:u1"}), (2, "e2"))])
    assert g.person_of("anonymous_id:a1") == node_id("user_id:u1")


def test_anonymous_device_that_logs_in_joins_the_users_person_and_history_is_remapped() -> None:
    g = graph()
    anon = resolve(g, RecentIds(), [event("e1", 1, anonymous_id="a1")]).events[0]["anchor_id"]
    login = resolve(g, RecentIds(), [event("e2", 2, anonymous_id="a1", user_id="u1")])
    assert login.events[0]["person_id"] == node_id("user_id:u1")
    assert (anon, node_id("user_id:u1")) in [(r.from_person, r.to_person) for r in login.remaps]


def test_a_second_user_id_is_refused_and_the_weaker_identifier_stays_with_the_first_person() -> None:
    g = graph()
    out = resolve(g, RecentIds(), [
        event("e1", 1, device_id="d1", user_id="u1"),
        event("e2", 2, email="m1", device_id="d1"),
        event("e3", 3, email="m1", user_id="u2"),  # would glue u1 and u2 through d1 and m1
    ])
    assert g.person_of("email:m1") == g.person_of("user_id:u1") != g.person_of("user_id:u2")
    assert [(r.kept, r.refused, r.kind) for r in out.changes.refusals] == [("user_id:u2", "email:m1", "user_id")]
    assert out.events[2]["person_id"] == node_id("user_id:u2")  # the event goes with its strongest id


def test_first_seen_is_event_time_not_arrival() -> None:
    late_first, early_first = graph(), graph()
    evs = [event("e1", 1, device_id="d1", user_id="u1"), event("e2", 2, email="m1", device_id="d1"),
           event("e3", 3, email="m1", user_id="u2")]
    resolve(late_first, RecentIds(), list(reversed(evs)))
    resolve(early_first, RecentIds(), evs)
    keys = ["device_id:d1", "email:m1", "user_id:u1", "user_id:u2"]
    assert persons(late_first, *keys) == persons(early_first, *keys)


def test_a_family_tablet_is_marked_shared_and_stops_gluing_its_users() -> None:
    g = graph()
    out = resolve(g, RecentIds(), [
        event("e1", 1, device_id="tablet", anonymous_id="a-t", user_id="u1"),
        event("e2", 2, device_id="tablet", anonymous_id="a-t", user_id="u2"),
        event("e3", 3, device_id="tablet", loyalty_id="L2", user_id="u2"),
    ])
    assert set(out.changes.shared) == {"device_id:tablet", "anonymous_id:a-t"}
    assert g.person_of("user_id:u1") != g.person_of("user_id:u2") == g.person_of("loyalty_id:L2")
    tap = resolve(g, RecentIds(), [event("e4", 4, device_id="tablet")]).events[0]["person_id"]
    assert tap not in persons(g, "user_id:u1", "user_id:u2")  # an anonymous tap is nobody's


def test_a_kiosk_where_customers_type_their_email_is_shared_after_two_of_them() -> None:
    g = graph()
    resolve(g, RecentIds(), [event("e1", 1, device_id="kiosk", email="alice"),
                             event("e2", 2, device_id="kiosk", phone="carol")])
    assert not g.shared and g.person_of("email:alice") == g.person_of("phone:carol")  # glued, for now
    out = resolve(g, RecentIds(), [event("e3", 3, device_id="kiosk", email="bob")])
    assert out.changes.shared == ["device_id:kiosk"]
    assert len(set(persons(g, "email:alice", "email:bob", "phone:carol"))) == 3


def test_a_device_with_one_email_and_one_phone_is_not_shared_and_contacts_count_only_against_devices() -> None:
    g = graph()
    resolve(g, RecentIds(), [
        event("e1", 1, device_id="d1", user_id="u1", email="home"),
        event("e2", 2, device_id="d1", email="home", phone="mobile"),
        event("e3", 3, email="home", phone="landline"),  # an email is no device: two phones are fine
        event("e4", 4, phone="mobile", email="work"),
    ])
    assert not g.shared
    assert len(set(persons(g, "user_id:u1", "email:home", "email:work", "phone:mobile", "phone:landline"))) == 1


def test_a_tablet_where_one_member_signs_in_and_another_types_an_email_is_shared() -> None:
    g = graph()
    out = resolve(g, RecentIds(), [
        event("e1", 1, device_id="tablet", user_id="u-lea", email="lea"),
        event("e2", 2, device_id="tablet", email="jean"),
    ])
    assert out.changes.shared == ["device_id:tablet"]
    assert g.person_of("email:jean") != g.person_of("user_id:u-lea") == g.person_of("email:lea")


def test_a_shared_identifier_found_late_splits_the_person_and_remaps_its_history() -> None:
    g = graph()
    first = resolve(g, RecentIds(), [event("e1", 1, device_id="kiosk", loyalty_id="L1")])
    assert first.events[0]["person_id"] == node_id("loyalty_id:L1")
    resolve(g, RecentIds(), [event("e2", 2, device_id="kiosk", email="m9")])
    assert g.person_of("email:m9") == node_id("loyalty_id:L1")  # glued, for now
    mail = resolve(g, RecentIds(), [event("e3", 3, email="m9")]).events[0]
    assert (mail["person_id"], mail["anchor_id"]) == (node_id("loyalty_id:L1"), node_id("email:m9"))
    out = resolve(g, RecentIds(), [event("e4", 4, device_id="kiosk", loyalty_id="L2")])
    assert "device_id:kiosk" in out.changes.shared
    assert g.person_of("email:m9") == node_id("email:m9")
    # the email's event follows its anchor back to a person of its own
    assert (node_id("email:m9"), node_id("email:m9")) in [(r.from_person, r.to_person) for r in out.remaps]


def test_junk_free_duplicates_are_dropped_before_stitching() -> None:
    g, seen = graph(), RecentIds()
    out = resolve(g, seen, [event("e1", 1, device_id="d1"), event("e1", 1, device_id="d1")])
    assert len(out.events) == 1 and out.duplicates == 1


def test_only_new_or_earlier_groups_are_published() -> None:
    g = graph()
    out = resolve(g, RecentIds(), [event("e2", 2, device_id="d1", user_id="u1"), event("e3", 3, device_id="d1", user_id="u1")])
    assert [link[2] for link in wire_links(out.changes)] == ["e2"]
    again = resolve(g, RecentIds(), [event("e1", 1, device_id="d1", user_id="u1")])
    assert [link[2] for link in wire_links(again.changes)] == ["e1"]


def test_remote_links_merge_like_local_ones() -> None:
    local, remote = graph(), graph()
    out = resolve(local, RecentIds(), [event("e1", 1, device_id="d1")])
    published = resolve(remote, RecentIds(), [event("e2", 2, device_id="d1", user_id="u1")])
    changes = apply_remote(local, wire_links(published.changes))
    assert [(r.from_person, r.to_person) for r in changes.remaps] == [(out.events[0]["anchor_id"], node_id("user_id:u1"))]
    assert local.person_of("device_id:d1") == remote.person_of("device_id:d1")


# -- erasure (`parcours forget`) ------------------------------------------------------------


def mentions(g: IdentityGraph, *keys: str) -> list[str]:
    """The given identifiers, or the person ids they name, anywhere in the graph's state."""
    state = repr({name: value for name, value in vars(g).items() if name != "rules"})
    return [token for key in keys for token in (key, node_id(key)) if token in state]


def test_forget_erases_a_person_and_leaves_the_others_as_they_were() -> None:
    g = graph()
    resolve(g, RecentIds(), [
        event("e1", 1, anonymous_id="a-ann", device_id="d-ann", user_id="u-ann", email="h-ann"),
        event("e2", 2, device_id="d-bob", user_id="u-bob"),
    ])
    bob = g.person_of("device_id:d-bob")
    ann_keys = ["anonymous_id:a-ann", "device_id:d-ann", "user_id:u-ann", "email:h-ann"]
    assert set(ann_keys) <= set(mentions(g, *ann_keys))  # the probe sees the state (person ids are not stored)
    out = g.forget(ann_keys)
    assert not out.remaps and not out.refusals
    assert all(k not in g for k in ann_keys) and mentions(g, *ann_keys) == []
    assert (len(g), g.persons, g.person_of("device_id:d-bob")) == (2, 1, bob)
    assert g.forget(ann_keys).remaps == []  # a repeated erasure is a no-op
    back = resolve(g, RecentIds(), [event("e1", 1, device_id="d-ann", user_id="u-ann")])
    assert back.changes.new_edges and g.person_of("device_id:d-ann") == node_id("user_id:u-ann")  # new data links again


def test_forget_keeps_the_rest_of_a_group_that_mixed_someone_elses_identifiers() -> None:
    events = [
        event("e1", 1, device_id="d1", user_id="u1"),
        event("e2", 2, email="m1", device_id="d1"),
        event("e3", 3, email="m1", user_id="u2", anonymous_id="a2"),  # u2 refused from u1's email
        event("e4", 4, anonymous_id="a2", device_id="d2"),
    ]
    g = graph()
    resolve(g, RecentIds(), events)
    assert g._refusals
    gone = ["user_id:u1", "device_id:d1", "email:m1"]  # u1's person
    g.forget(gone)
    assert mentions(g, *gone) == [] and not g._refusals
    # the same graph as if the erased identifiers had never been seen
    fresh = graph()
    fresh.apply([(frozenset(k for k in group if k not in gone), sort_key)
                 for group, sort_key in map(group_of, events) if set(group) - set(gone)])
    rest = ["user_id:u2", "anonymous_id:a2", "device_id:d2"]
    assert persons(g, *rest) == persons(fresh, *rest) == [node_id("user_id:u2")] * 3


def test_forget_remaps_the_anchors_left_behind() -> None:
    g = graph()
    anon = resolve(g, RecentIds(), [event("e1", 1, anonymous_id="a1")]).events[0]["anchor_id"]
    resolve(g, RecentIds(), [event("e2", 2, anonymous_id="a1", email="m1")])
    assert g.person_of("anonymous_id:a1") == node_id("email:m1")
    out = g.forget(["email:m1"])
    assert [(r.from_person, r.to_person, r.reason) for r in out.remaps] == [(anon, anon, "forget")]
    assert g.person_of("anonymous_id:a1") == anon


def test_forget_next_to_a_shared_identifier_keeps_the_mark_but_drops_the_evidence() -> None:
    g = graph()
    resolve(g, RecentIds(), [
        event("e1", 1, device_id="tablet", user_id="u1"),
        event("e2", 2, device_id="tablet", user_id="u2"),
    ])
    assert "device_id:tablet" in g.shared
    g.forget(["user_id:u1"])
    assert "device_id:tablet" in g.shared and mentions(g, "user_id:u1") == []
    assert g.person_of("user_id:u2") == node_id("user_id:u2")


def test_forget_unknown_identifiers_changes_nothing() -> None:
    g = graph()
    resolve(g, RecentIds(), [event("e1", 1, device_id="d1", user_id="u1")])
    before = repr(vars(g))
    assert g.forget(["email:nobody"]).remaps == [] and repr(vars(g)) == before


def test_a_new_identifier_is_first_seen_at_its_earliest_sighting_in_the_batch() -> None:
    g = graph()
    out = resolve(g, RecentIds(), [event("early", 100, device_id="d", user_id="u"), event("late", 500, device_id="d")])
    assert {k: ms for k, _, ms in out.new_identifiers} == {"device_id:d": 100, "user_id:u": 100}


def test_an_identifier_seen_earlier_in_a_later_batch_is_recorded_again_with_that_time() -> None:
    g = graph()
    resolve(g, RecentIds(), [event("e1", 500, device_id="d", user_id="u")])
    late = resolve(g, RecentIds(), [event("e2", 900, device_id="d")])
    early = resolve(g, RecentIds(), [event("e0", 100, user_id="u")])
    assert late.new_identifiers == []
    assert [(k, p, ms) for k, p, ms in early.new_identifiers] == [("user_id:u", g.person_of("user_id:u"), 100)]


def test_an_identifier_learnt_from_another_workers_links_is_recorded_when_first_resolved_here() -> None:
    g = graph()
    apply_remote(g, wire_links(resolve(graph(), RecentIds(), [event("e1", 5, device_id="d", user_id="u")]).changes))
    out = resolve(g, RecentIds(), [event("e2", 7, device_id="d")])
    assert [(k, ms) for k, _, ms in out.new_identifiers] == [("device_id:d", 7)]


def test_an_event_with_only_shared_identifiers_has_no_anchor_and_a_person_of_its_own() -> None:
    g = graph()
    resolve(g, RecentIds(), [event("a", 1, device_id="tablet", user_id="u1"),
                             event("b", 2, device_id="tablet", user_id="u2")])
    out = resolve(g, RecentIds(), [event("tap", 3, device_id="tablet")])
    (tap,) = out.events
    assert "device_id:tablet" in g.shared
    assert (tap["anchor_id"], tap["person_id"]) == ("", own_person("tap"))


def test_a_rebuilt_graph_adopts_the_published_mapping_and_corrects_it() -> None:
    g = graph()  # rebuilt from links alone: nothing handed out in this run
    g.apply([(frozenset({"anonymous_id:a", "device_id:d"}), (1, "e1"))])
    a, d = node_id("anonymous_id:a"), node_id("device_id:d")
    remaps = g.adopt({a: g.person_of("anonymous_id:a"), d: "stale", "unknown": "x"})
    assert [(r.from_person, r.to_person) for r in remaps] == [(d, g.person_of("device_id:d"))]
    # adopted anchors are followed: a later login remaps them although no event used them here
    out = g.apply([(frozenset({"anonymous_id:a", "user_id:u"}), (2, "e2"))])
    assert {r.from_person for r in out.remaps} >= {a, d}
    assert g.person_of("anonymous_id:a") == g.person_of("user_id:u")


def test_a_refusal_the_cut_no_longer_makes_is_withdrawn() -> None:
    g = graph()
    made = resolve(g, RecentIds(), [
        event("s1", 1, device_id="tab", user_id="ua"),
        event("s2", 2, device_id="tab", email="b"),
        event("s3", 3, anonymous_id="ab", user_id="ub", email="b"),  # refused: tab glued b to ua
    ]).changes
    assert [(r.kept, r.refused) for r in made.refusals] == [("user_id:ub", "email:b")] and not made.withdrawn
    # a second email on the tablet: it is shared, and b joins ub after all
    later = resolve(g, RecentIds(), [event("s4", 4, device_id="tab", email="c")]).changes
    assert later.shared == ["device_id:tab"] and g.person_of("email:b") == g.person_of("user_id:ub")
    assert later.withdrawn == made.refusals and not later.refusals  # was: recorded for good
    # the same events in the other order never refuse anything: the same end
    other = graph()
    out = resolve(other, RecentIds(), [event("s4", 4, device_id="tab", email="c"),
                                        event("s3", 3, anonymous_id="ab", user_id="ub", email="b"),
                                        event("s2", 2, device_id="tab", email="b"),
                                        event("s1", 1, device_id="tab", user_id="ua")]).changes
    assert not out.refusals and not out.withdrawn


def test_a_person_an_identifier_found_shared_leaves_is_named() -> None:
    g = graph()
    resolve(g, RecentIds(), [event("x1", 1, device_id="tab", user_id="ux")])
    out = resolve(g, RecentIds(), [event("y1", 2, device_id="tab", user_id="uy")]).changes
    assert out.shared == ["device_id:tab"] and out.narrowed == [node_id("user_id:ux")]
