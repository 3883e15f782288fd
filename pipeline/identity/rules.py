"""The stitching rules, as pure functions over one cluster of identifiers.

strategy: a *cluster* is a connected component of identifiers that are not shared, over all
events (hyperedges) seen so far. Inside a cluster, persons are cut by a greedy pass over the
cluster's distinct identifier groups in event-time order (occurred_at, event_id): each group
joins its identifiers to its strongest one, unless that would put two different values of a
limited kind (at most one user_id, crm_id, loyalty_id per person, by default) in one person;
such a link is refused and recorded. Because the order is event time, not arrival, "the
person an identifier was first seen with" keeps it whatever order events arrive in, and the
result is a function of the set of events only: every worker, and the offline reference, cut
the same persons.

An identifier is *shared* once it has been seen with `shared_after` different values of one
limited kind (a store kiosk with many loyalty cards, a family tablet with two logins): it stops
linking, and its events get a person only through the other identifiers they carry. Contacts
(email, phone: not limited, a customer may have two) count against devices only: a device seen
with `contacts_after` different emails (or phones) is a kiosk where customers type theirs, or
a tablet a family shares (two members type theirs).
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

Key = str
"""An identifier node: "kind:value"."""
SortKey = tuple[int, str]
"""(occurred_at ms, event_id): the event-time order of an identifier group."""


@dataclass(frozen=True)
class Rules:
    ranks: dict[str, int]
    """kind -> priority, 0 strongest: the strongest identifier names the person."""
    limits: dict[str, int]
    """kind -> most distinct values one person may hold (user_id: 1 ...)."""
    shared_after: int
    """Distinct values of one limited kind seen with an identifier that make it shared."""
    contacts: frozenset[str] = frozenset()
    """Unlimited kinds that still name one customer (email, phone): evidence against devices."""
    devices: frozenset[str] = frozenset()
    """Kinds a customer's contacts can show to be shared (device_id, anonymous_id)."""
    contacts_after: int = 2
    """Distinct values of one contact kind seen with a device that make it shared."""

    def rank(self, key: Key) -> int:
        return self.ranks.get(kind_of(key), len(self.ranks))

    def shareable(self, key: Key) -> bool:
        return kind_of(key) not in self.limits

    def bar(self, kind: str) -> int:
        """Distinct values of an evidence kind that make an identifier shared."""
        return self.shared_after if kind in self.limits else self.contacts_after


@dataclass(frozen=True, slots=True)
class Refusal:
    event_id: str
    kept: Key
    """The identifier the refused one was to be joined to (the event's strongest)."""
    refused: Key
    kind: str
    """The limited kind that would have had two values."""


def kind_of(key: Key) -> str:
    # interned: a handful of kinds, used as keys of every identifier's evidence map. Not
    # cached: a cache entry (~150 B per identifier) costs more than the split it saves.
    return sys.intern(key.partition(":")[0])


#: Recent identifiers repeat within a journey; a cache sized for all of them would hold
#: ~160 B per identifier for the life of the worker (160 MB at 1 M identifiers).
NODE_ID_CACHE = 1 << 16


@lru_cache(maxsize=NODE_ID_CACHE)
def node_id(key: Key) -> str:
    """A person id: the hash of the identifier that names it (cached: identifiers repeat)."""
    return hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


def own_person(event_id: str) -> str:
    """The person of an event that carries only shared identifiers: its own (jobs/taps.py may
    give it the login around it later)."""
    return node_id(f"event:{event_id}")


def name_of(members: Iterable[Key], rules: Rules) -> str:
    return min((rules.rank(k), node_id(k)) for k in members)[1]


def cut_persons(edges: dict[frozenset[Key], SortKey], nodes: Iterable[Key], shared: set[Key],
                rules: Rules) -> tuple[dict[Key, str], list[Refusal]]:
    """Persons of one cluster: node -> person id, and the links refused by the limits."""
    parent = {k: k for k in nodes if k not in shared}
    held: dict[Key, dict[str, set[str]]] = {k: _limited(k, rules) for k in parent}
    refusals: list[Refusal] = []

    def find(k: Key) -> Key:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for group, (_, event_id) in sorted(edges.items(), key=lambda item: item[1]):
        keys = sorted((k for k in group if k in parent), key=lambda k: (rules.rank(k), k))
        for other in keys[1:]:
            a, b = find(keys[0]), find(other)
            if a == b:
                continue
            clash = _clash(held[a], held[b], rules)
            if clash:
                refusals.append(Refusal(event_id, keys[0], other, clash))
                continue
            if len(held[a]) < len(held[b]):
                a, b = b, a
            parent[b] = a
            for kind, values in held.pop(b).items():
                held[a].setdefault(kind, set()).update(values)
    groups: dict[Key, list[Key]] = {}
    for k in parent:
        groups.setdefault(find(k), []).append(k)
    person = {}
    for members in groups.values():
        name = name_of(members, rules)
        person.update(dict.fromkeys(members, name))
    return person, refusals


def _limited(key: Key, rules: Rules) -> dict[str, set[str]]:
    kind = kind_of(key)
    return {kind: {key}} if kind in rules.limits else {}


def _clash(a: dict[str, set[str]], b: dict[str, set[str]], rules: Rules) -> str | None:
    for kind, values in a.items():
        other = b.get(kind)
        if other and len(values | other) > rules.limits[kind]:
            return kind
    return None


class Evidence(Protocol):
    """Shareable identifier -> the evidence it was seen with (a dict, or the graph's columns)."""

    def get(self, key: Key, default: tuple[Key, ...], /) -> tuple[Key, ...]: ...

    def __setitem__(self, key: Key, value: tuple[Key, ...], /) -> None: ...


def shared_by(group: frozenset[Key], seen_with: Evidence, rules: Rules) -> list[Key]:
    """Record which person-level identifiers each shareable one was seen with (at most the
    bar of each kind): the limited ones, and for a device its contacts too; return the ones
    this group makes shared. The evidence is a function of the group, so the shared set is
    one of the set of events, whatever their order.

    A flat tuple per identifier, not a set per kind: it holds one or two keys for almost
    every identifier, and is rebuilt only when a new one is seen (about 60 B against 450)."""
    limited = [k for k in group if not rules.shareable(k)]
    contacts = [k for k in group if kind_of(k) in rules.contacts] if rules.contacts else []
    if not limited and not contacts:
        return []
    against_devices = limited + contacts
    newly = []
    for key in group:
        if not rules.shareable(key):
            continue
        evidence = against_devices if kind_of(key) in rules.devices else limited
        seen = before = seen_with.get(key, ())
        for strong in evidence:
            if strong in seen:
                continue
            kind = kind_of(strong)
            bar = rules.bar(kind)
            count = sum(1 for k in seen if kind_of(k) == kind)
            if count < bar:
                seen = (*seen, strong)
                if count + 1 == bar:
                    newly.append(key)
        if seen is not before:
            seen_with[key] = seen
    return newly
