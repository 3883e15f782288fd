"""De-duplication by event_id: producers retry, so the same event may arrive twice.

strategy: events are partitioned by event_id, so one owner sees every copy of an id. It keeps
the ids it has seen in two generations of sets: when the young one is full it becomes the old
one and the oldest generation is dropped. Memory is bounded (2 x capacity ids per partition)
and an id is remembered for at least `capacity` later events. Re-deliveries older than that
(or after a crash, before state recovery) are still collapsed in ClickHouse by the
ReplacingMergeTree key of `events`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RecentIds:
    capacity: int = 1_000_000
    young: set[str] = field(default_factory=set)
    old: set[str] = field(default_factory=set)

    def first_time(self, event_id: str) -> bool:
        """True the first time an id is offered (within the window), False for a repeat."""
        if event_id in self.young or event_id in self.old:
            return False
        if len(self.young) >= self.capacity:
            self.old, self.young = self.young, set()
        self.young.add(event_id)
        return True
