"""Low watermarks: how far in event time *every* upstream partition has come.

strategy: as in Flink, a stage's watermark is the lowest of its inputs' watermarks, so that a
fast input does not declare closed what a slow one is still delivering. Each internal events
message carries its origin (the upstream partition it came from) and that origin's watermark
when it was sent: ingest sends each raw partition's highest event time, identity the low
watermark of its valid partition over the raw origins; the sessions stage takes the lowest
over the valid origins to forget sessions. Riding inside the events messages keeps it in
order with the events and costs no message of its own.

An origin never heard from holds the low watermark at 0 (unknown) until `idle_s` after the
tracker began; one silent for `idle_s` stops counting until it speaks again (an idle raw
partition must not keep every session in memory forever). Each origin's watermark only rises.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Wall-clock seconds after which a silent origin stops holding the low watermark back.
IDLE_S = 120.0


@dataclass(slots=True)
class LowWatermark:
    origins: int
    """How many upstream partitions feed this one."""
    began: float
    """Wall clock (monotonic s) when tracking began (start, restore, take-over)."""
    idle_s: float = IDLE_S
    highest: dict[int, int] = field(default_factory=dict)
    """Origin -> the highest watermark it reported, epoch ms."""
    heard: dict[int, float] = field(default_factory=dict)
    """Origin -> wall clock of its last report."""

    def report(self, origin: int, watermark: int, now: float) -> None:
        if watermark > self.highest.get(origin, -1):
            self.highest[origin] = watermark
        self.heard[origin] = now

    def low(self, now: float) -> int:
        """The lowest watermark over the origins that count now; 0 while one is unknown."""
        lowest = None
        silent_before = now - self.idle_s
        for origin in range(self.origins):
            heard = self.heard.get(origin)
            if heard is None:
                if self.began > silent_before:
                    return 0  # not heard from yet: it may still deliver anything
                continue
            if heard <= silent_before:
                continue  # idle: it does not hold the others back
            value = self.highest[origin]
            if lowest is None or value < lowest:
                lowest = value
        return lowest if lowest is not None else 0

    @property
    def reported(self) -> bool:
        return bool(self.heard)


def source_watermark(previous: int, latest_event_ms: int, now_ms: int) -> int:
    """A raw partition's watermark after a batch: its highest event time, never ahead of the
    wall clock (an event from a device whose clock runs fast must not close the sessions of
    everyone else), never lower than before."""
    return max(previous, min(latest_event_ms, now_ms))
