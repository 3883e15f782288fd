"""De-duplication by event_id: producers retry, so the same event may arrive twice.

strategy: events are partitioned by event_id, so one owner sees every copy of an id. It keeps
the ids it has seen in two generations: when the young one is full it becomes the old one and
the oldest generation is dropped. Memory is bounded (2 x capacity ids per partition) and an id
is remembered for at least `capacity` later events. Re-deliveries older than that (or after a
crash, before state recovery) are still collapsed in ClickHouse by the ReplacingMergeTree key
of `events`.

layout: an id is kept as its 64-bit hash (the string's own, already computed for the lookup),
the young generation in a set (~70 B an id), the old one as a sorted array (8 B an id, looked up
by bisection); strings would cost ~95 B an id in both. Two different ids share a hash with
probability 2^-64: over a full window of 2 M ids, one false repeat in ~10^13 events.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from dataclasses import dataclass, field


@dataclass
class RecentIds:
    capacity: int = 1_000_000
    young: set[int] = field(default_factory=set)
    old: array[int] = field(default_factory=lambda: array("q"))
    """Sorted."""

    def first_time(self, event_id: str) -> bool:
        """True the first time an id is offered (within the window), False for a repeat."""
        digest = hash(event_id)
        if digest in self.young:
            return False
        old = self.old
        at = bisect_left(old, digest)
        if at < len(old) and old[at] == digest:
            return False
        if len(self.young) >= self.capacity:
            self.old, self.young = array("q", sorted(self.young)), set()
        self.young.add(digest)
        return True
