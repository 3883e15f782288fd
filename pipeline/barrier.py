"""End-of-input barriers, so `replay` knows when every event has reached ClickHouse.

strategy: like Flink's checkpoint barriers. `replay` writes a control message after its input
on every raw partition. Each stage, once it has seen the barrier from *every* upstream
partition (so everything before it on every input has been processed and produced), sends it
on to every downstream partition. The sessions stage also exchanges it with its peers (they
hand sessions to each other) and then flushes open sessions. The sink records the barrier per
facts partition in ClickHouse once the rows before it are written; `replay` waits for all.

Which copies have arrived is state like any other: a partition's next owner resumes from the
committed input offset, past the copies its previous owner consumed, so a count kept only in
memory would wait forever after a hand-over. Hence ingest and identity hold no count (each copy
is sent on as it passes, named by its path); the sessions stage keeps its counts in its
changelog and the sink in ClickHouse.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class BarrierTracker:
    """Counts barrier copies per id from distinct upstream origins."""

    expected: int
    seen: dict[str, set[int]] = field(default_factory=dict)

    def arrive(self, barrier_id: str, origin: int) -> bool:
        """True exactly once: when the last expected origin's copy arrives."""
        origins = self.seen.setdefault(barrier_id, set())
        if origin in origins:
            return False
        origins.add(origin)
        if len(origins) == self.expected:
            self.seen[barrier_id] = set(range(self.expected + 1))  # never fires again
            return True
        return False

    def pending(self) -> dict[str, list[int]]:
        """The barriers still waiting, with the origins arrived so far (for a changelog)."""
        return {b: sorted(o) for b, o in self.seen.items() if len(o) < self.expected}

    def resume(self, pending: dict[str, list[int]]) -> None:
        """Take back the arrivals a previous owner recorded (`pending`)."""
        for barrier_id, origins in pending.items():
            self.seen.setdefault(barrier_id, set()).update(origins)
