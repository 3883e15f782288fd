"""What the identity graph tells the rest of the pipeline after a batch: the groups it learnt
(for the other workers), the shared identifiers and refused links it found, and the anchors
whose person changed (`Remap`: the views re-attribute history through the latest one)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.identity.rules import Key, Refusal, SortKey

Edge = frozenset[Key]
"""A group of identifiers seen together in one event."""


@dataclass(frozen=True, slots=True)
class Remap:
    """Anchor `from_person` (the node id of an identifier used in facts; a person id is the
    node id of its naming identifier) now belongs to person `to_person`."""

    from_person: str
    to_person: str
    reason: str
    event_id: str


@dataclass(slots=True)
class Changes:
    """What one `apply` changed, for the facts and the other workers."""

    new_edges: list[tuple[Edge, SortKey]] = field(default_factory=list)
    """Groups that are new or now have an earlier event: published to the other workers."""
    shared: list[Key] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    withdrawn: list[Refusal] = field(default_factory=list)
    """Refusals recorded earlier that the cut no longer makes."""
    narrowed: list[str] = field(default_factory=list)
    """Persons an identifier found shared has left: their published profiles list it still."""
    remaps: list[Remap] = field(default_factory=list)
