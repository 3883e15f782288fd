"""Raw input too big for Kafka: its head goes on, marked, and becomes an `oversized` dead letter.

strategy: ingest dead-letters any raw message over MAX_BYTES (64 KiB) as `oversized`, and
`parcours.dead_letters` keeps the masked text of its first DEAD_LETTER_HEAD_BYTES at most.
A broker refuses a message over its limit (`message.max.bytes`: 1 MB by default on a Kafka
cluster; librdkafka's own limit here is 16 MB), and one refused line stopped a whole replay.
So `parcours replay` sends a line longer than HEAD_BYTES as its first HEAD_BYTES, with a
HEADER giving its real size: still over MAX_BYTES, so ingest rejects it as `oversized` like
any other; the reason gives the real size; `dead_letters` keeps exactly what it kept of the
whole line; the DLQ topic keeps those HEAD_BYTES (not the whole line) with the header. The
HTTP collector needs no cut: its bodies are bounded (500 KiB, collector/body.py).
"""

from __future__ import annotations

from pipeline.ingest.logic import MAX_BYTES
from pipeline.ingest.outcomes import DeadLetter
from pipeline.ingest.pii import DEAD_LETTER_HEAD_BYTES

#: Kafka header of a cut message: its real size in bytes, as decimal text.
HEADER = "parcours-oversized"
#: Bytes of a cut message that are produced: what `dead_letters` would keep of it anyway; over
#: MAX_BYTES (so still rejected as oversized) and well under a broker's default 1 MB limit.
HEAD_BYTES = DEAD_LETTER_HEAD_BYTES

Header = tuple[str, bytes]


def cut(value: bytes) -> tuple[bytes, list[Header]]:
    """What to produce of `value`: itself, or its head and the header that says it was cut."""
    if len(value) <= HEAD_BYTES:
        return value, []
    return value[:HEAD_BYTES], [(HEADER, str(len(value)).encode())]


def declared_size(headers: dict[str, bytes]) -> int | None:
    """The real size of a cut message, from its headers; None for a whole one."""
    size = headers.get(HEADER)
    return int(size) if size is not None and size.isdigit() else None


def reason(dead: DeadLetter, size: int | None, kept: int) -> DeadLetter:
    """An `oversized` dead letter of a cut message names its real size and what Kafka holds."""
    if size is None or dead.code != "oversized":
        return dead
    return DeadLetter(f"oversized: {size} bytes > {MAX_BYTES} (cut to its first {kept} bytes before Kafka)")
