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

layout: a worker holds every identifier of the customer base (3 M for 1 M customers), so
the graph is columnar. An identifier is a node number; what the graph knows of a node sits in
integer arrays (4 bytes a field, not a Python object per identifier), and a cluster is two
rings threaded through those arrays: its members, and its edges. Strings exist once per
identifier (its key) and once per group (its event id). A cluster is turned back into keys
and frozensets only to be cut, which `rules` does on one cluster at a time.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator

from pipeline.identity.changes import Changes, Edge, Remap
from pipeline.identity.refusals import Refusals
from pipeline.identity.rules import Key, Refusal, Rules, SortKey, cut_persons, node_id, shared_by
from pipeline.identity.texts import Texts

Node = int
Ids = tuple[Node, ...]
"""A group as the sorted node numbers of its identifiers."""

NONE = -1
UNSEEN = 2**63 - 1
"""First sighting of a node no event of this worker has carried yet."""
SCAN = 8
"""Edges of a cluster looked through to find a group; larger clusters are indexed."""


class IdentityGraph:
    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.shared: set[Key] = set()
        self._refusals = Refusals()
        """The links the current cut refuses (a cluster cut again replaces its own)."""
        self.knowledge = 0
        """Edges learnt (new, or seen with an earlier event) plus erasures: the version of the
        remaps decided now. Every worker learns the same edges (links topic), in any order; a
        worker that knows more has the higher count, so in person_merges (latest version wins)
        the decision made with the most knowledge wins — not the one that happened to be
        written last by a worker still catching up."""
        # nodes
        self._index: dict[Key, Node] = {}
        self._keys: list[Key | None] = []
        """node -> its key; None once erased (node numbers are never reused)."""
        self._parent = array("i")
        """Union-find of the clusters."""
        self._ring = array("i")
        """Next member of the node's cluster (a circular list: clusters join in O(1))."""
        self._size = array("i")
        """Members of the cluster, at its root."""
        self._edge_of = array("i")
        """At a root: one edge of its cluster's edge ring, or NONE."""
        self._edge_count = array("i")
        """At a root: the edges of its cluster."""
        self._namer = array("i")
        """The node that names the node's person (itself when alone or shared)."""
        self._mapped = array("i")
        """For an anchor used in facts: the namer it was last mapped to; NONE otherwise."""
        self._with = array("i")
        """A shareable node's first evidence partner (rules.shared_by), or NONE."""
        self._with2 = array("i")
        """Its second, or NONE: a customer's device is seen with a login and its email."""
        self._with_more: dict[Node, Ids] = {}
        """The further partners of the few nodes seen with more than two."""
        self._first_seen = array("q")
        """The earliest event time (ms) this worker resolved the node in; UNSEEN if none (a node
        learnt from another worker's links, or from the links of an earlier run)."""
        # edges (groups of two or more identifiers)
        self._edge_nodes = array("i")
        self._edge_start = array("i", [0])
        """Edge e's nodes are _edge_nodes[_edge_start[e]:_edge_start[e + 1]], sorted."""
        self._edge_at = array("q")
        self._edge_event = Texts()
        """Edge e's sort key is (_edge_at[e], _edge_event[e]); None once dropped."""
        self._edge_ring = array("i")
        """Next edge of the same cluster (circular)."""
        self._by_hash: dict[int, int] = {}
        """hash of a group's Ids -> its edge, for the edges of clusters with more than SCAN
        edges (a customer's cluster has a few: looking through them costs less memory than an
        index entry, ~120 B a group). Two groups of one large cluster that share a 64-bit hash
        would be stored twice, which changes nothing but memory."""

    def __len__(self) -> int:
        return len(self._index)

    @property
    def persons(self) -> int:
        return len({self._namer[node] for node in self._index.values()})

    @property
    def refusals(self) -> set[Refusal]:
        """The links the current cut refuses."""
        return self._refusals.current()

    def __contains__(self, key: Key) -> bool:
        return key in self._index

    def person_of(self, key: Key) -> str:
        """Current person of a known identifier; a shared one is a person of its own."""
        node = self._index.get(key)
        return node_id(key) if node is None else self._person(node)

    def members(self, key: Key) -> list[Key]:
        person = self.person_of(key)
        node = self._index.get(key)
        keys = [key] if node is None else [self._key(m) for m in self._cluster(self._find(node))]
        return sorted(k for k in keys if self.person_of(k) == person)

    def sighted(self, sightings: dict[Key, int]) -> list[tuple[Key, int]]:
        """Note when known identifiers were seen (event time, ms); returns those seen earlier
        than ever before (their identities row is to be written, or written again)."""
        index, first_seen = self._index, self._first_seen
        earliest = []
        for key, at_ms in sightings.items():
            node = index.get(key)
            if node is not None and at_ms < first_seen[node]:
                first_seen[node] = at_ms
                earliest.append((key, at_ms))
        return earliest

    def hand_out(self, key: Key, out: Changes) -> str:
        """The person of anchor `key` for a fact. The anchor and the person's naming identifier
        are remembered, so that facts follow them when their person changes."""
        node = self._index[key]
        namer = self._namer[node]
        for anchor in (node, namer):
            if self._mapped[anchor] == NONE:
                self._mapped[anchor] = anchor
                self._remap(anchor, out, "resolved")
        return self._person(node)

    def apply(self, groups: list[tuple[Edge, SortKey]], reason: str = "link") -> Changes:
        """Add identifier groups (one per event, with its event-time sort key)."""
        out = Changes()
        dirty: set[Node] = set()
        split: set[Node] = set()
        index = self._index
        for group, sort_key in groups:
            if len(group) < 2:  # links nothing: only whether the identifier is known matters
                for key in group:
                    if key not in index:
                        self._add(key)
                continue
            nodes = []
            for key in group:
                node = index.get(key)
                if node is None:
                    node = self._add(key)
                nodes.append(node)
            ids = tuple(sorted(nodes))
            edge = self._edge(ids)
            if edge is not None and (self._edge_at[edge], self._edge_event[edge]) <= sort_key:
                continue  # the common case: a repeat visit changes nothing
            for key in set(shared_by(group, _Evidence(self), self.rules)):
                out.narrowed.append(self._person(index[key]))
                self.shared.add(key)
                out.shared.append(key)
                split.add(index[key])
            if self._add_edge(ids, sort_key, dirty, edge):
                out.new_edges.append((group, sort_key))
                self.knowledge += 1
        for root in {self._find(node) for node in split}:
            dirty |= self._rebuild(root)
        self._recut({self._find(node) for node in dirty if self._keys[node] is not None}, out, reason)
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
        gone = {self._index[key] for key in keys if key in self._index}
        if not gone:
            return out
        self.knowledge += 1
        roots = {self._find(node) for node in gone}
        neighbours: set[Node] = set()
        for edge in range(len(self._edge_event)):  # a full scan: erasures are rare
            if self._edge_event.live(edge) and not gone.isdisjoint(nodes := self._nodes(edge)):
                neighbours.update(nodes)
                roots.add(self._edge_root(edge))  # an erased shared identifier's groups
        for node in neighbours - gone:
            partners = self._partners(node)
            if not gone.isdisjoint(partners):
                self._set_partners(node, tuple(p for p in partners if p not in gone))
        gone_keys = {self._key(node) for node in gone}
        self._refusals.erase(gone_keys)
        members: set[Node] = set()
        edges: dict[Ids, SortKey] = {}
        for root in roots:
            members.update(self._cluster(root))
            for edge in list(self._edges(root)):
                rest = tuple(n for n in self._nodes(edge) if n not in gone)
                sort_key = (self._edge_at[edge], self._edge_event[edge])
                if len(rest) > 1 and (rest not in edges or sort_key < edges[rest]):
                    edges[rest] = sort_key  # type: ignore[assignment]
                self._drop_edge(edge)
        members -= gone
        for node in gone:
            key = self._key(node)
            del self._index[key]
            self._keys[node] = None
            self._set_partners(node, ())
            self._mapped[node] = NONE
            self.shared.discard(key)
        for node in members:
            self._reset(node)
        ignored: set[Node] = set()
        for ids, sort_key in edges.items():
            self._add_edge(ids, sort_key, ignored, self._edge(ids))
        self._recut({self._find(node) for node in members}, out, "forget")
        return out

    def adopt(self, published: dict[str, str]) -> list[Remap]:
        """Take over the anchor -> person mapping the views follow (`published`, by anchor id),
        after the graph was rebuilt from evidence kept elsewhere (history.replay_links): every
        anchor of this graph found there is remembered as handed out, so that facts follow it
        when its person changes; the ones whose person differs are remapped now."""
        remaps = []
        for key, node in self._index.items():
            anchor = node_id(key)
            person = published.get(anchor)
            if person is None:
                continue
            self._mapped[node] = self._namer[node]
            if person != self._person(node):
                remaps.append(Remap(anchor, self._person(node), "restored", ""))
        return remaps

    def handed_out_all(self) -> None:
        """After a rebuild from the links topic: every identifier in it was handed out to facts
        when its event was resolved (each is its own anchor when first seen), by some worker
        or an earlier life of this one, with the person the rebuilt graph gives it (its last
        remap: persons are a function of the links). Remember them all, so that facts follow
        them when their person changes; a rebuilt graph knew none and left those facts
        pointing at persons merged away."""
        for node, key in enumerate(self._keys):
            if key is not None:
                self._mapped[node] = self._namer[node]

    def restatement(self) -> list[Remap]:
        """The current person of every anchor this worker has handed out, unchanged ones
        included: the complete mapping, for replacing one written by an earlier run that
        started from another state (a killed embedded replay, whose graph died with it). The
        identifiers naming those persons are included: a person id maps to itself."""
        anchors = {node for node in self._index.values() if self._mapped[node] != NONE}
        anchors |= {self._namer[node] for node in anchors}
        keys = sorted(self._key(node) for node in anchors)
        return [Remap(node_id(key), self.person_of(key), "restated", "") for key in keys]

    # nodes

    def _add(self, key: Key) -> Node:
        node = len(self._keys)
        self._index[key] = node
        self._keys.append(key)
        for column in (self._parent, self._ring, self._namer):
            column.append(node)
        self._size.append(1)
        for column in (self._edge_of, self._mapped, self._with, self._with2):
            column.append(NONE)
        self._edge_count.append(0)
        self._first_seen.append(UNSEEN)
        return node

    def _reset(self, node: Node) -> None:
        """Make a node a cluster of its own again (before its edges are re-added)."""
        self._parent[node] = self._ring[node] = self._namer[node] = node
        self._size[node] = 1
        self._edge_of[node] = NONE
        self._edge_count[node] = 0

    def _key(self, node: Node) -> Key:
        key = self._keys[node]
        assert key is not None, f"node {node} was erased"
        return key

    def _person(self, node: Node) -> str:
        return node_id(self._key(self._namer[node]))

    def _find(self, node: Node) -> Node:
        parent = self._parent
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    def _cluster(self, root: Node) -> Iterator[Node]:
        node = root
        while True:
            yield node
            node = self._ring[node]
            if node == root:
                return

    def _live(self, ids: Iterable[Node]) -> list[Node]:
        return [n for n in ids if self._keys[n] not in self.shared]

    def _partners(self, node: Node) -> Ids:
        first, second = self._with[node], self._with2[node]
        if first == NONE:
            return ()
        return (first,) if second == NONE else (first, second, *self._with_more.get(node, ()))

    def _set_partners(self, node: Node, partners: Ids) -> None:
        self._with[node] = partners[0] if partners else NONE
        self._with2[node] = partners[1] if len(partners) > 1 else NONE
        if len(partners) > 2:
            self._with_more[node] = partners[2:]
        else:
            self._with_more.pop(node, None)

    # edges

    def _nodes(self, edge: int) -> Ids:
        return tuple(self._edge_nodes[self._edge_start[edge]:self._edge_start[edge + 1]])

    def _edges(self, root: Node) -> Iterator[int]:
        first = edge = self._edge_of[root]
        while edge != NONE:
            yield edge
            edge = self._edge_ring[edge]
            if edge == first:
                return

    def _edge_root(self, edge: int) -> Node:
        """The cluster an edge is kept in: the one of its unshared nodes."""
        nodes = self._nodes(edge)
        return self._find((self._live(nodes) or nodes)[0])

    def _edge(self, ids: Ids) -> int | None:
        """The edge of a group, if it was seen."""
        edge = self._by_hash.get(hash(ids))
        if edge is not None and self._nodes(edge) == ids:
            return edge
        live = self._live(ids)
        if not live:
            return None  # only shared identifiers: never kept
        root = self._find(live[0])  # a kept group's unshared nodes are in one cluster
        if self._edge_count[root] > SCAN:
            return None  # indexed: not seen
        return next((e for e in self._edges(root) if self._nodes(e) == ids), None)

    def _add_edge(self, ids: Ids, sort_key: SortKey, dirty: set[Node], edge: int | None) -> bool:
        """Store a group that is new (`edge` None) or seen now with an earlier event, joining
        the clusters it spans; False if it links nothing (only shared identifiers)."""
        live = self._live(ids)
        if not live:
            return False
        if edge is not None:
            self._edge_at[edge] = sort_key[0]
            self._edge_event[edge] = sort_key[1]
            dirty.add(self._find(live[0]))
            return True
        edge = len(self._edge_event)
        self._edge_nodes.extend(ids)
        self._edge_start.append(len(self._edge_nodes))
        self._edge_at.append(sort_key[0])
        self._edge_event.append(sort_key[1])
        self._edge_ring.append(edge)
        root = self._join({self._find(n) for n in live})
        self._link(root, edge)
        dirty.add(root)
        return True

    def _join(self, roots: set[Node]) -> Node:
        """Union of clusters: the largest absorbs the others (rings are spliced)."""
        root = max(roots, key=lambda r: self._size[r])
        count = self._edge_count
        total = sum(count[r] for r in roots)
        for other in roots:
            if count[other] <= SCAN < total:
                self._index_edges(other)
        for other in roots - {root}:
            self._parent[other] = root
            self._size[root] += self._size[other]
            self._ring[root], self._ring[other] = self._ring[other], self._ring[root]
            if self._edge_of[other] != NONE:
                self._splice(root, self._edge_of[other])
        count[root] = total
        return root

    def _link(self, root: Node, edge: int) -> None:
        """Add a lone edge (its ring is itself) to the cluster of `root`."""
        count = self._edge_count
        if count[root] == SCAN:
            self._index_edges(root)  # it grows past SCAN: index what was found by looking through
        count[root] += 1
        if count[root] > SCAN:
            self._by_hash.setdefault(hash(self._nodes(edge)), edge)
        self._splice(root, edge)

    def _index_edges(self, root: Node) -> None:
        for edge in self._edges(root):
            self._by_hash.setdefault(hash(self._nodes(edge)), edge)

    def _splice(self, root: Node, edge: int) -> None:
        """Splice the ring that `edge` is on into the edge ring of `root`."""
        head = self._edge_of[root]
        if head == NONE:
            self._edge_of[root] = edge
        else:
            ring = self._edge_ring
            ring[head], ring[edge] = ring[edge], ring[head]

    def _drop_edge(self, edge: int) -> None:
        """Forget an edge (its cluster is being rebuilt, which unthreads its ring)."""
        if self._by_hash.get(hash(ids := self._nodes(edge))) == edge:
            del self._by_hash[hash(ids)]
        self._edge_event.drop(edge)

    def _rebuild(self, root: Node) -> set[Node]:
        """Re-form the clusters of `root`'s members without the shared identifiers."""
        members, edges = list(self._cluster(root)), list(self._edges(root))
        for node in members:
            self._reset(node)
        for edge in edges:
            self._edge_ring[edge] = edge
            live = self._live(self._nodes(edge))
            if live:
                self._link(self._join({self._find(n) for n in live}), edge)
            else:
                self._drop_edge(edge)  # only shared identifiers: links nothing, names nobody
        return {self._find(node) for node in members}

    # persons

    def _recut(self, roots: set[Node], out: Changes, reason: str) -> None:
        touched: list[Key] = []
        refused: set[Refusal] = set()
        for root in roots:
            members = [self._key(node) for node in self._cluster(root)]
            touched += members
            edges: dict[Edge, SortKey] = {}
            for edge in self._edges(root):
                edges[frozenset(self._key(n) for n in self._nodes(edge))] = \
                    (self._edge_at[edge], self._edge_event[edge])  # type: ignore[assignment]
            person, refusals = cut_persons(edges, members, self.shared, self.rules)
            namers = {node_id(key): self._index[key] for key in members}
            for key in members:
                node = self._index[key]
                self._namer[node] = namers[person[key]] if key in person else node
            refused.update(refusals)
            for key in members:
                node = self._index[key]
                if self._mapped[node] != NONE:
                    self._remap(node, out, reason)
        made, withdrawn = self._refusals.settle(touched, refused)
        out.refusals += made
        out.withdrawn += withdrawn

    def _remap(self, anchor: Node, out: Changes, reason: str) -> None:
        namer = self._namer[anchor]
        if self._mapped[anchor] != namer:
            self._mapped[anchor] = namer
            out.remaps.append(Remap(node_id(self._key(anchor)), self._person(anchor), reason, ""))


class _Evidence:
    """`rules.shared_by`'s view of the evidence columns: key -> the limited keys it was seen with."""

    __slots__ = ("graph",)

    def __init__(self, graph: IdentityGraph) -> None:
        self.graph = graph

    def get(self, key: Key, default: tuple[Key, ...] = ()) -> tuple[Key, ...]:
        g = self.graph
        return tuple(g._key(n) for n in g._partners(g._index[key])) or default

    def __setitem__(self, key: Key, partners: tuple[Key, ...]) -> None:
        g = self.graph
        g._set_partners(g._index[key], tuple(g._index[k] for k in partners))
