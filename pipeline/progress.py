"""Progress for long-running commands: a bar on a terminal, a line every few seconds otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, label: str, total: int | None = None, stream: TextIO = sys.stderr,
                 every_s: float = 5.0) -> None:
        self.label, self.total, self.stream = label, total, stream
        self.tty = stream.isatty()
        self.every_s = 0.1 if self.tty else every_s
        self.started = self.last = time.monotonic()
        self.done = 0
        self._shown = -1  # the count last rendered: finish() does not print a log line twice

    def update(self, done: int, force: bool = False) -> None:
        self.done = done
        now = time.monotonic()
        if force or now - self.last >= self.every_s:
            self.last = now
            self._render(now)

    def finish(self) -> None:
        if self.tty or self.done != self._shown:
            self._render(time.monotonic())
        if self.tty:
            self.stream.write("\n")
        self.stream.flush()

    def _render(self, now: float) -> None:
        self._shown = self.done
        rate = self.done / max(now - self.started, 1e-9)
        if self.total:
            share = min(self.done / self.total, 1.0)
            bar = "#" * int(share * 30)
            text = (f"{self.label:<10} [{bar:<30}] {share:5.1%} "
                    f"{self.done:,}/{self.total:,} {rate:,.0f}/s")
        else:
            text = f"{self.label:<10} {self.done:,} {rate:,.0f}/s"
        self.stream.write(("\r" + text) if self.tty else text + "\n")
        self.stream.flush()
