"""Garbage-collector thresholds for a worker process.

A worker holds a large, long-lived heap (identity graph, open sessions, profiles) and
allocates a few hundred short-lived objects per event (decoded batches, rows). With CPython's
default thresholds (700, 10, 10) the full collections walk that whole heap again and again:
measured on `make bench`, 9.5 s of a 37 s run went to the collector. The state holds no
reference cycles that need prompt collection, so collections are made rarer; a full one
still runs every 2 000 young ones, so cyclic garbage from libraries is reclaimed.

The young generation is large (400 000) because at scale the young and middle collections
were the cost: over 1 M events (`make bench`'s pipeline run with 93 000 persons) 50 000 spent
9.5-13.4 s of ~200 s in the collector (middle collections up to 0.8 s each), 400 000 spent
2.9 s (the longest pause 0.7 s, middle collections ~1 ms); at 107 k events 0.54-0.57 s against 0.16-0.19 s.
"""

from __future__ import annotations

import gc

#: (young, middle, old): a young collection every 400 000 net allocations.
THRESHOLDS = (400_000, 20, 100)


def tune() -> None:
    gc.set_threshold(*THRESHOLDS)
    gc.freeze()  # what is alive after start-up (modules, settings) is never collected
