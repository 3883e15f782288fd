"""Pure identity logic for a batch: de-duplicate, link identifiers, name each event's person.

strategy: the whole batch is applied to the graph first, so a login late in a batch already
joins the anonymous events earlier in it; then each event gets the person of its strongest
identifier that is not shared. An event that carries only shared identifiers (a kiosk tap
without a card) cannot be told apart from other customers' and gets a person of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.identity.changes import Changes, Edge, Remap
from pipeline.identity.graph import IdentityGraph
from pipeline.identity.rules import Key, SortKey, node_id, own_person
from pipeline.ingest.dedupe import RecentIds

Event = dict[str, Any]


@dataclass(slots=True)
class Resolved:
    events: list[Event] = field(default_factory=list)
    new_identifiers: list[tuple[Key, str, int]] = field(default_factory=list)
    """(identifier, its person, event time first seen in ms) of identifiers new to the graph or
    seen earlier than before; the identifier is its anchor."""
    changes: Changes = field(default_factory=Changes)
    duplicates: int = 0

    @property
    def remaps(self) -> list[Remap]:
        return self.changes.remaps


def key_of(kind: str, value: str) -> Key:
    return f"{kind}:{value}"


def keys_of(event: Event) -> list[Key]:
    return [key_of(kind, value) for kind, value in event["identifiers"].items()]


def group_of(event: Event) -> tuple[Edge, SortKey]:
    return frozenset(keys_of(event)), (event["occurred_at"], event["event_id"])


def resolve(graph: IdentityGraph, seen: RecentIds, events: list[Event]) -> Resolved:
    out = Resolved()
    fresh = []
    for event in events:
        if seen.first_time(event["event_id"]):
            fresh.append(event)
        else:
            out.duplicates += 1
    groups = [group_of(event) for event in fresh]
    out.changes = graph.apply(groups)
    first_seen: dict[Key, int] = {}  # the earliest sighting in the batch, whatever the order
    for group, (occurred_at, _) in groups:
        for key in group:
            if occurred_at < first_seen.get(key, occurred_at + 1):
                first_seen[key] = occurred_at
    for event, (group, _) in zip(fresh, groups, strict=True):
        anchor = anchor_of(graph, group)
        if anchor is None:  # only shared identifiers: a person of its own, and no anchor
            event["person_id"], event["anchor_id"] = own_person(event["event_id"]), ""
        else:
            event["person_id"] = graph.hand_out(anchor, out.changes)
            event["anchor_id"] = node_id(anchor)
        out.events.append(event)
    # A new identifier, or a known one seen earlier than ever before (a late event, another
    # batch, another worker's or an earlier run's links): its row, which v_identities keeps
    # the earliest of.
    for key, at in graph.sighted(first_seen):
        out.new_identifiers.append((key, graph.hand_out(key, out.changes), at))
    return out


def anchor_of(graph: IdentityGraph, group: Edge) -> Key | None:
    """The identifier an event's person is resolved through: its strongest unshared one."""
    live = [k for k in group if k not in graph.shared]
    if len(live) < 2:  # most events carry one identifier
        return live[0] if live else None
    return min(live, key=lambda k: (graph.rules.rank(k), k))


def apply_remote(graph: IdentityGraph, links: list[list[Any]]) -> Changes:
    """Identifier groups published by other workers (or echoed back): [keys, occurred_at, event_id]."""
    return graph.apply([(frozenset(keys), (occurred_at, event_id)) for keys, occurred_at, event_id in links],
                       reason="remote")


def wire_links(changes: Changes) -> list[list[Any]]:
    return [[sorted(group), sort_key[0], sort_key[1]] for group, sort_key in changes.new_edges]
