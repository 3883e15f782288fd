"""The worker fixes glibc's mmap threshold: large short-lived buffers keep their own mappings
(given back when freed) instead of fragmenting the heap."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

PROBE = """
import ctypes, ctypes.util, sys
from pipeline import allocator
if sys.argv[1] == "tuned":
    assert allocator.tune()
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                                "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.mallinfo2.restype = Info
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.free(libc.malloc(600_000))  # glibc raises its threshold past a freed mapped buffer
before = libc.mallinfo2().hblks
held = [libc.malloc(600_000) for _ in range(8)]
print(libc.mallinfo2().hblks - before)
"""


def mapped_buffers(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    return int(done.stdout)


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_after_tuning_large_buffers_keep_their_own_mappings() -> None:
    assert mapped_buffers("default") == 0  # what the tuning is for: they went to the heap
    assert mapped_buffers("tuned") == 8
