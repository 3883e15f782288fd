"""glibc malloc settings for a worker process.

A worker's large buffers live for one batch: an internal message of 1 000 events (~600 KB,
written by orjson, copied by librdkafka), decoded batches, Arrow columns. glibc serves a
buffer above its mmap threshold with its own mapping, given back when freed, but it raises
that threshold to the size of every such buffer freed (up to 32 MB): from the first one on,
they came from the heap, between long-lived objects, and left holes the heap cannot give
back. Over 1 M events one worker peaked at 1.8 GB of RSS with 443 MB free inside the heap
(mallinfo2). Setting the threshold fixes it where it is, so those buffers keep their own
mappings: peak 1 554 MB in the same run (jobs/BENCHMARKS.md). A periodic `malloc_trim` was
measured too and not kept: it stalls allocation in every thread for up to 0.45 s.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

#: mallopt's parameter number for the mmap threshold (malloc.h).
M_MMAP_THRESHOLD = -3
#: glibc's default threshold, now fixed: buffers of at least 128 KiB get their own mapping.
MMAP_THRESHOLD = 128 * 1024


def tune() -> bool:
    """Fix the mmap threshold; False where the C library is not glibc (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    if not hasattr(libc, "malloc_trim"):  # only glibc has it; musl's mallopt does nothing
        return False
    ok = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    if not ok:
        log.warning("could not fix glibc's mmap threshold: memory may grow with fragmentation")
    return ok
