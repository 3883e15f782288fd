"""The asyncio event loop a Parcours process runs on (PARCOURS_EVENT_LOOP).

A worker runs every stage on one event loop, so the loop's own machinery (callbacks, timers,
sockets, the threads that wait for Kafka acknowledgements) competes with the stages for one
core. uvloop, asyncio's loop rewritten on libuv, leaves more of it to the stages
(jobs/BENCHMARKS.md, *Event loop*). It is the default where it is installed (not on
Windows); `asyncio` keeps the standard library's loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

#: PARCOURS_EVENT_LOOP values; the first is the default.
LOOPS = ("uvloop", "asyncio")
DEFAULT = LOOPS[0]


def run(main: Coroutine[Any, Any, T], loop: str) -> T:
    """`asyncio.run(main)` on the loop named `loop` (one of LOOPS)."""
    with asyncio.Runner(loop_factory=factory(loop)) as runner:
        return runner.run(main)


def factory(loop: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """A loop factory for `asyncio.Runner`; None = the standard library's loop (also when
    uvloop is asked for but not installed: it has no Windows build)."""
    if loop == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def name(loop: asyncio.AbstractEventLoop) -> str:
    """Which loop this is, for logs and the benchmark's figures."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
