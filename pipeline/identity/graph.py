"""The identity graph: identifiers are nodes, an event carrying several links them.

strategy: union-find over identifier keys ("kind:value"). A person is a connected component;
its id is the hash of its *strongest* identifier (lowest kind rank, then lowest hash), so the
surviving id of any merge is a function of the component alone, never of arrival order: every
worker that applies the same links, in any order, names every person the same way. When a
component's id changes (two persons joined, or a stronger identifier arrived) every id it has
ever carried is remapped to the new one; `to_order` sorts ids by strength so readers can take
the strongest target (argMin) even if remaps from several workers interleave.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


def node_id(key: str) -> str:
    return hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


def key_of(kind: str, value: str) -> str:
    return f"{kind}:{value}"


@dataclass(frozen=True, slots=True)
class Remap:
    """Person `from_person` is now known as `to_person`."""

    from_person: str
    to_person: str
    to_order: str
    reason: str
    event_id: str


@dataclass(slots=True)
class Component:
    best: tuple[int, str]
    """(rank, node id) of the strongest identifier: the person id is best[1]."""
    members: list[str]
    history: set[str] = field(default_factory=set)
    """Person ids of this component that were handed out to facts: whenever the current id
    changes, each of them is remapped to the new one."""

    @property
    def person_id(self) -> str:
        return self.best[1]

    @property
    def order(self) -> str:
        return order_of(self.best)


def order_of(best: tuple[int, str]) -> str:
    return f"{best[0]:02d}:{best[1]}"


@dataclass(frozen=True, slots=True)
class NewIdentifier:
    kind: str
    value: str
    person_id: str

    @classmethod
    def of(cls, key: str, person_id: str) -> NewIdentifier:
        kind, value = key.split(":", 1)
        return cls(kind, value, person_id)


class IdentityGraph:
    """Mutable state of one worker; `link` is the only writer."""

    def __init__(self, ranks: dict[str, int]) -> None:
        self._ranks = ranks
        self._parent: dict[str, str] = {}
        self._components: dict[str, Component] = {}

    def __len__(self) -> int:
        return len(self._parent)

    @property
    def persons(self) -> int:
        return len(self._components)

    def find(self, key: str) -> str | None:
        parent = self._parent
        if key not in parent:
            return None
        while parent[key] != key:
            parent[key] = parent[parent[key]]  # path halving
            key = parent[key]
        return key

    def person_of(self, key: str) -> str | None:
        root = self.find(key)
        return None if root is None else self._components[root].person_id

    def component(self, key: str) -> Component | None:
        root = self.find(key)
        return None if root is None else self._components[root]

    def link(self, keys: list[str], event_id: str = "") -> tuple[list[Remap], list[str]]:
        """Join `keys` into one person. Returns id changes and the keys seen for the first time."""
        new: list[str] = []
        roots: list[str] = []
        for key in keys:
            root = self.find(key)
            if root is None:
                new.append(key)
            elif root not in roots:
                roots.append(root)
        if not new and len(roots) <= 1:
            return [], []
        for key in new:
            self._add(key)
            roots.append(key)
        remaps = self._union_all(roots, event_id, merged=len(roots) - len(new) > 1)
        return remaps, new

    def _add(self, key: str) -> None:
        kind = key.split(":", 1)[0]
        self._parent[key] = key
        best = (self._ranks.get(kind, len(self._ranks)), node_id(key))
        self._components[key] = Component(best, [key])

    def _union_all(self, roots: list[str], event_id: str, merged: bool) -> list[Remap]:
        components = [self._components[r] for r in roots]
        winner_root = max(roots, key=lambda r: len(self._components[r].members))
        winner = self._components[winner_root]
        best = min(c.best for c in components)
        reason = "merge" if merged else "stronger_identifier"
        history: set[str] = set().union(*(c.history for c in components))
        remaps = [
            Remap(old, best[1], order_of(best), reason, event_id)
            for old in sorted(history - {best[1]})
        ]
        for root, comp in zip(roots, components, strict=True):
            if root != winner_root:
                self._parent[root] = winner_root
                winner.members.extend(comp.members)
                del self._components[root]
        winner.history = history
        winner.best = best
        return remaps

    def hand_out(self, key: str) -> str:
        """The current person id of a known `key`, recorded as used in a fact (so it is
        remapped if it ever stops being current)."""
        comp = self.component(key)
        if comp is None:
            raise KeyError(key)
        comp.history.add(comp.person_id)
        return comp.person_id
