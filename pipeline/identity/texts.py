"""An append-only column of strings in one buffer: ~10 B of overhead a string, not ~55.

The identity graph keeps the event id of every group's earliest event (its sort key's tie
break, and the event a refusal names): one per group, millions per worker, each read back
only when its group is seen again or its cluster is cut.
"""

from __future__ import annotations

from array import array


class Texts:
    __slots__ = ("_buffer", "_start", "_length")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._start = array("q")
        self._length = array("i")
        """-1: dropped."""

    def __len__(self) -> int:
        return len(self._start)

    def append(self, text: str) -> None:
        self._start.append(len(self._buffer))
        self._length.append(0)
        self[len(self._start) - 1] = text

    def __getitem__(self, i: int) -> str | None:
        length = self._length[i]
        if length < 0:
            return None
        start = self._start[i]
        return self._buffer[start:start + length].decode()

    def __setitem__(self, i: int, text: str) -> None:
        """Replace (rare: a group seen again with an earlier event); the old bytes stay unused."""
        data = text.encode()
        self._start[i], self._length[i] = len(self._buffer), len(data)
        self._buffer += data

    def drop(self, i: int) -> None:
        self._length[i] = -1

    def live(self, i: int) -> bool:
        """Not dropped, without decoding the text."""
        return self._length[i] >= 0
