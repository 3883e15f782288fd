"""Pure identity logic for a batch: link identifiers, then name each event's person.

strategy: two passes. First every event's identifiers are linked, so a login late in a batch
already joins the anonymous events earlier in the same batch; then each event gets the person
its identifiers now belong to. Only links that changed this worker's graph are published for
the other workers (the rest they already have).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.identity.graph import IdentityGraph, NewIdentifier, Remap, key_of
from pipeline.ingest.dedupe import RecentIds

Event = dict[str, Any]


@dataclass(slots=True)
class Resolved:
    events: list[Event] = field(default_factory=list)
    new_identifiers: list[tuple[NewIdentifier, int]] = field(default_factory=list)
    """(identifier, event time first seen in ms)."""
    remaps: list[Remap] = field(default_factory=list)
    links: list[list[Any]] = field(default_factory=list)
    """[event_id, [key, ...]] that changed the graph: published to the other workers."""
    duplicates: int = 0


def keys_of(event: Event) -> list[str]:
    return [key_of(kind, value) for kind, value in event["identifiers"].items()]


def resolve(graph: IdentityGraph, seen: RecentIds, events: list[Event]) -> Resolved:
    out = Resolved()
    fresh = []
    for event in events:
        if seen.first_time(event["event_id"]):
            fresh.append(event)
        else:
            out.duplicates += 1
    keyed = [(event, keys_of(event)) for event in fresh]
    first_seen: list[tuple[str, int]] = []
    for event, keys in keyed:
        remaps, new = graph.link(keys, event["event_id"])
        if remaps or new:
            out.links.append([event["event_id"], keys])
        out.remaps += remaps
        first_seen += [(key, event["occurred_at"]) for key in new]
    for event, keys in keyed:
        event["person_id"] = graph.hand_out(keys[0])
        out.events.append(event)
    for key, seen_ms in first_seen:
        out.new_identifiers.append((NewIdentifier.of(key, graph.hand_out(key)), seen_ms))
    return out


def apply_remote(graph: IdentityGraph, links: list[list[Any]]) -> list[Remap]:
    """Links published by other workers (or echoed back): only id changes matter here."""
    remaps: list[Remap] = []
    for event_id, keys in links:
        remaps += graph.link(keys, event_id)[0]
    return remaps
