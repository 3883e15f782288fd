"""Garbage-collector thresholds for a worker process.

A worker holds a large, long-lived heap (identity graph, open sessions, profiles) and
allocates a few hundred short-lived objects per event (decoded batches, rows). With CPython's
default thresholds (700, 10, 10) the full collections walk that whole heap again and again:
measured on `make bench`, 9.5 s of a 37 s run went to the collector. The state holds no
reference cycles that need prompt collection, so collections are made rarer; a full one
still runs every ~100 M allocations, so cyclic garbage from libraries is reclaimed.
"""

from __future__ import annotations

import gc

#: (young, middle, old): a young collection every 50 000 net allocations.
THRESHOLDS = (50_000, 20, 100)


def tune() -> None:
    gc.set_threshold(*THRESHOLDS)
    gc.freeze()  # what is alive after start-up (modules, settings) is never collected
