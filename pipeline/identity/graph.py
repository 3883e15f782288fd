"""The identity graph of one worker: identifiers, the groups events saw them in, persons.

strategy: identifiers are nodes; every distinct group of identifiers seen together is a
hyperedge, kept with its earliest event (event time). Unshared identifiers connected by edges
form a *cluster* (union-find; rebuilt locally when one of its identifiers turns out to be
shared). When a batch touches a cluster, its persons are cut again from its edges by
`rules.cut_persons`, a function of the edge set alone: arrival order, duplicates and which
worker saw what do not change the result. Clusters are small (one customer's identifiers,
plus whatever a refused link left next to them), so recomputing one is cheap.

Every fact names an *anchor*: the identifier its person was resolved through (an event's
strongest unshared identifier; the identifier itself for an identity row; the naming
identifier for a session's person). Whenever the person of an anchor used in a fact changes
(a merge, a rename, a split after a shared identifier is found), a `Remap` (anchor -> person,
newer version) is emitted: the views re-attribute all history through the latest one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pipeline.identity.rules import Key, Refusal, Rules, SortKey, cut_persons, node_id, shared_by

Edge = frozenset[Key]


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

    new_keys: list[Key] = field(default_factory=list)
    new_edges: list[tuple[Edge, SortKey]] = field(default_factory=list)
    """Groups that are new or now have an earlier event: published to the other workers."""
    shared: list[Key] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    remaps: list[Remap] = field(default_factory=list)


@dataclass(slots=True)
class Cluster:
    members: set[Key]
    edges: dict[Edge, SortKey]


class IdentityGraph:
    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self._parent: dict[Key, Key] = {}
        self._clusters: dict[Key, Cluster] = {}
        self._person: dict[Key, str] = {}
        self.shared: set[Key] = set()
        self._seen_with: dict[Key, tuple[Key, ...]] = {}
        """Shareable identifier -> the limited ones it was seen with (rules.shared_by)."""
        self._namer: dict[str, Key] = {}
        """person id -> the identifier that names it (its strongest)."""
        self._mapped: dict[Key, str] = {}
        """anchors used in facts -> the person they were last mapped to."""
        self._refused: set[Refusal] = set()
        self._seen_groups: dict[Edge, SortKey] = {}
        """Every group of two or more identifiers applied, with its earliest event: repeats
        are skipped."""
        self.knowledge = 0
        """Edges learnt (new, or seen with an earlier event) plus erasures: the version of the
        remaps decided now. Every worker learns the same edges (links topic), in any order; a
        worker that knows more has the higher count, so in person_merges (latest version wins)
        the decision made with the most knowledge wins — not the one that happened to be
        written last by a worker still catching up."""

    def __len__(self) -> int:
        return len(self._parent)

    @property
    def persons(self) -> int:
        return len(set(self._person.values()))

    def __contains__(self, key: Key) -> bool:
        return key in self._parent

    def person_of(self, key: Key) -> str:
        """Current person of a known identifier; a shared one is a person of its own."""
        return self._person.get(key) or node_id(key)

    def members(self, key: Key) -> list[Key]:
        person = self.person_of(key)
        cluster = self._clusters.get(self._find(key)) if key in self._parent else None
        return sorted(k for k in (cluster.members if cluster else {key}) if self.person_of(k) == person)

    def hand_out(self, key: Key, out: Changes) -> str:
        """The person of anchor `key` for a fact. The anchor and the person's naming identifier
        are remembered, so that facts follow them when their person changes."""
        person = self.person_of(key)
        for anchor in (key, self._namer.get(person, key)):
            if anchor not in self._mapped:
                self._mapped[anchor] = node_id(anchor)
                self._remap(anchor, out, "resolved", "")
        return person

    def apply(self, groups: list[tuple[Edge, SortKey]], reason: str = "link") -> Changes:
        """Add identifier groups (one per event, with its event-time sort key)."""
        out = Changes()
        dirty: set[Key] = set()
        split: set[Key] = set()
        seen = self._seen_groups
        for group, sort_key in groups:
            if len(group) < 2:  # links nothing: only whether the identifier is known matters,
                for key in group:  # so it is not kept in `seen` (a third of all groups)
                    if key not in self._parent:
                        self._add(key)
                        out.new_keys.append(key)
                continue
            earliest = seen.get(group)
            if earliest is not None and earliest <= sort_key:
                continue  # the common case: a repeat visit changes nothing
            seen[group] = sort_key
            for key in group:
                if key not in self._parent:
                    self._add(key)
                    out.new_keys.append(key)
            for key in set(shared_by(group, self._seen_with, self.rules)):
                self.shared.add(key)
                out.shared.append(key)
                split.add(key)
            if self._add_edge(group, sort_key, dirty):
                out.new_edges.append((group, sort_key))
                self.knowledge += 1
        for root in {self._find(key) for key in split}:
            dirty |= self._rebuild(root)
        self._recut({self._find(r) for r in dirty if r in self._parent}, out, reason)
        return out

    def forget(self, keys: Iterable[Key]) -> Changes:
        """Erase identifiers (a GDPR erasure, `parcours forget`): their nodes, every group they
        were seen in, the refusals and shared-marking evidence that name them, and the person
        ids they named; the rest of their clusters is cut again. Unknown keys are ignored, so
        a repeated erasure is a no-op.

        strategy: a group that mixed erased identifiers with others (a refused link: someone
        else's login typed with the erased email) keeps the others, so whatever it joined
        stays joined. Another identifier's *shared* mark stays: a kiosk is still a kiosk after
        one of its customers left, and un-sharing it would glue the remaining ones again.
        Persons whose cut changes are remapped (returned like `apply`'s changes)."""
        out = Changes()
        gone = {key for key in keys if key in self._parent}
        if not gone:
            return out
        self.knowledge += 1
        neighbours: set[Key] = set()
        kept: dict[Edge, SortKey] = {}
        for group, sort_key in self._seen_groups.items():  # a full scan: erasures are rare
            if gone.isdisjoint(group):
                kept[group] = sort_key
            else:
                neighbours |= group
        self._seen_groups = kept
        for key in neighbours - gone:
            if key in self._seen_with:
                self._seen_with[key] = tuple(k for k in self._seen_with[key] if k not in gone)
        self._refused = {r for r in self._refused if r.kept not in gone and r.refused not in gone}
        members: set[Key] = set()
        edges: dict[Edge, SortKey] = {}
        for root in {self._find(key) for key in gone}:
            cluster = self._clusters.pop(root)
            members |= cluster.members - gone
            for group, sort_key in cluster.edges.items():
                rest = group - gone
                if len(rest) > 1 and (rest not in edges or sort_key < edges[rest]):
                    edges[rest] = sort_key
        for key in gone:
            del self._parent[key]
            self._person.pop(key, None)
            self._seen_with.pop(key, None)
            self._mapped.pop(key, None)
            self._namer.pop(node_id(key), None)
            self.shared.discard(key)
        for key in members:
            self._parent[key] = key
            self._clusters[key] = Cluster({key}, {})
        ignored: set[Key] = set()
        for group, sort_key in edges.items():
            self._add_edge(group, sort_key, ignored)
        self._recut({self._find(key) for key in members}, out, "forget")
        return out

    def _add(self, key: Key) -> None:
        self._parent[key] = key
        self._clusters[key] = Cluster({key}, {})
        person = node_id(key)  # one string for both maps
        self._person[key] = person
        self._namer[person] = key

    def _find(self, key: Key) -> Key:
        parent = self._parent
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    def _add_edge(self, group: Edge, sort_key: SortKey, dirty: set[Key]) -> bool:
        """Store the group in its cluster (joining the clusters it spans); True if it is new
        or earlier than the stored copy."""
        live = [k for k in group if k not in self.shared]
        if not live:
            return False  # only shared identifiers: links nothing, names nobody
        roots = {self._find(k) for k in live}
        if len(roots) == 1:  # the common case: a group already seen, nothing to join
            known = self._clusters[next(iter(roots))].edges.get(group)
            if known is not None and known <= sort_key:
                return False
        root = max(roots, key=lambda r: len(self._clusters[r].members))
        cluster = self._clusters[root]
        for other in roots - {root}:
            absorbed = self._clusters.pop(other)
            self._parent[other] = root
            cluster.members |= absorbed.members
            cluster.edges.update({e: k for e, k in absorbed.edges.items()
                                  if e not in cluster.edges or k < cluster.edges[e]})
        known = cluster.edges.get(group)
        if known is not None and known <= sort_key:
            return False
        cluster.edges[group] = sort_key
        dirty.add(root)
        return True

    def _rebuild(self, root: Key) -> set[Key]:
        """Re-form the clusters of `root`'s members without the shared identifiers."""
        old = self._clusters.pop(root)
        for key in old.members:
            self._parent[key] = key
            self._clusters[key] = Cluster({key}, {})
        ignored: set[Key] = set()
        for group, sort_key in old.edges.items():
            self._add_edge(group, sort_key, ignored)
        return {self._find(k) for k in old.members}

    def _recut(self, roots: set[Key], out: Changes, reason: str) -> None:
        for root in roots:
            cluster = self._clusters[root]
            person, refusals = cut_persons(cluster.edges, cluster.members, self.shared, self.rules)
            for key in cluster.members:
                self._person[key] = person.get(key) or node_id(key)
                if self._person[key] == node_id(key):
                    self._namer[node_id(key)] = key
            for refusal in refusals:
                if refusal not in self._refused:
                    self._refused.add(refusal)
                    out.refusals.append(refusal)
            for key in cluster.members:
                if key in self._mapped:
                    self._remap(key, out, reason, "")

    def restatement(self) -> list[Remap]:
        """The current person of every anchor this worker has handed out, unchanged ones
        included: the complete mapping, for replacing one written by an earlier run that
        started from another state (a killed embedded replay, whose graph died with it). The
        identifiers naming those persons are included: a person id maps to itself."""
        anchors = set(self._mapped)
        anchors.update(self._namer[p] for p in {self.person_of(a) for a in self._mapped} if p in self._namer)
        return [Remap(node_id(anchor), self.person_of(anchor), "restated", "") for anchor in sorted(anchors)]

    def _remap(self, anchor: Key, out: Changes, reason: str, event_id: str) -> None:
        current = self.person_of(anchor)
        if self._mapped[anchor] != current:
            self._mapped[anchor] = current
            out.remaps.append(Remap(node_id(anchor), current, reason, event_id))
