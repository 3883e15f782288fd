"""De-duplication by event_id: producers retry, so the same event may arrive twice.

strategy: events are partitioned by event_id, so one owner sees every copy of an id. It keeps
the ids it has seen in generations: the young one in a set; when it is full it is sorted into
an array and joins the old generations, and the oldest is dropped once the newer ones hold
`capacity` ids. Memory is bounded (`capacity` + one generation of ids per partition) and an
id is remembered for at least `capacity` later events. Re-deliveries older than that (or after
a crash, before state recovery) are still collapsed in ClickHouse by the ReplacingMergeTree
key of `events`.

layout: an id is kept as its 64-bit hash (the string's own, already computed for the lookup):
~70 B in the young set, 8 B in the old generations, which are also merged into one sorted
array looked up by bisection. A young set as large as the window cost ~100 MB per partition
(a worker holding the 4 partitions of `parcours.events.valid` reached ~400 MB); generations
of at most `GENERATION` ids keep the set small. Two different ids share a hash with
probability 2^-64: over a full window of 1 M ids, one false repeat in ~10^13 events.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import deque
from dataclasses import dataclass, field

import numpy as np

#: Most ids in the young set (a generation); the window holds ceil(capacity / GENERATION) of them.
GENERATION = 1 << 17


@dataclass
class RecentIds:
    capacity: int = 1_000_000
    young: set[int] = field(default_factory=set)
    old: array[int] = field(default_factory=lambda: array("q"))
    """The old generations merged, sorted: one bisection looks through all of them."""
    generations: deque[np.ndarray] = field(default_factory=deque)
    """The old generations, oldest first, each sorted."""
    size: int = field(init=False)
    """Ids in a generation: the fewest generations of at most GENERATION ids that hold `capacity`."""

    def __post_init__(self) -> None:
        count = -(-self.capacity // GENERATION)
        self.size = -(-self.capacity // count)

    def first_time(self, event_id: str) -> bool:
        """True the first time an id is offered (within the window), False for a repeat."""
        digest = hash(event_id)
        if digest in self.young:
            return False
        old = self.old
        at = bisect_left(old, digest)
        if at < len(old) and old[at] == digest:
            return False
        if len(self.young) >= self.size:
            self._age()
        self.young.add(digest)
        return True

    def _age(self) -> None:
        """The young generation becomes old; the oldest goes once the newer ones fill the window."""
        generations = self.generations
        generations.append(np.sort(np.fromiter(self.young, np.int64, len(self.young))))
        self.young = set()
        held = sum(len(g) for g in generations)
        while held - len(generations[0]) >= self.capacity:
            held -= len(generations.popleft())
        merged = np.sort(np.concatenate(generations), kind="stable")  # merges sorted runs
        self.old = array("q", merged.tobytes())
