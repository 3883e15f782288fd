"""Request bodies: decompression, the size limit and JSON parsing, each refusal with a hint."""

from __future__ import annotations

import codecs
import zlib
from typing import Any

import orjson

from pipeline.collector import lenient
from pipeline.collector.errors import Refused

MAX_BODY_BYTES = 500 * 1024
"""Per request, decompressed (Segment's batch limit). It also keeps every message under a
broker's default 1 MB limit, so producing never fails for size: a message can outgrow its
body (re-written JSON: `1E15` -> `1000000000000000.0`, up to ~1.9 MB from 500 KiB), but the
broker counts the lz4-compressed batch, which that leaves near the body's size (measured:
a 495 KB body of such numbers -> 855 KB message -> 293 KB compressed)."""


GZIP_MAGIC = b"\x1f\x8b"
#: Compressed bytes handed to zlib per call. At a member's end zlib copies the input it did not
#: use (`unused_data`): fed the whole rest of the body, a body of thousands of tiny members
#: would cost a copy of itself per member.
INFLATE_FEED = 4 * 1024
TRAILING_HINT = "send the gzip data alone (several gzip members one after another are fine)"


def gunzip(body: bytes, limit: int = MAX_BODY_BYTES) -> bytes:
    """A gzip body decompressed, at most `limit` bytes. Recognised by its magic bytes, so a
    client that gzips without saying so is understood too (routes.py checks the header).

    Every member is read: a gzip file is a series of members (RFC 1952, 2.2), what
    `cat a.gz b.gz` makes, and what gzip.decompress and `parcours replay` read. `limit` bounds
    the total, so a gzip bomb split over members is refused as one. After the last member only
    NUL padding may follow (gzip(1) and GzipFile skip it); other bytes are refused, not dropped."""
    if body[:2] != GZIP_MAGIC:
        return check_size(body, limit)
    view, parts = memoryview(body), list[bytes]()
    offset = size = 0
    while offset < len(body) and size <= limit:
        if not body.startswith(GZIP_MAGIC, offset):
            _check_padding(body, offset)
            break
        part, offset = _member(view, offset, limit - size)
        parts.append(part)
        size += len(part)
    return check_size(b"".join(parts), limit)


def _member(body: memoryview, offset: int, budget: int) -> tuple[bytes, int]:
    """The gzip member at `offset` decompressed (more than `budget` bytes: cut at budget + 1)
    and the offset after it."""
    inflater = zlib.decompressobj(wbits=31)
    parts: list[bytes] = []
    size = 0
    while not inflater.eof and size <= budget and offset < len(body):
        chunk = body[offset:offset + INFLATE_FEED]
        try:
            parts.append(inflater.decompress(chunk, budget + 1 - size))  # max_length >= 1 (0: unbounded)
        except zlib.error as exc:
            raise Refused(400, "invalid_gzip", f"the body is not valid gzip ({exc})",
                          "gzip the whole JSON body, or send it uncompressed") from None
        size += len(parts[-1])
        offset += len(chunk) - len(inflater.unconsumed_tail) - len(inflater.unused_data)
    if not inflater.eof and size <= budget:
        raise Refused(400, "invalid_gzip", "the gzip body is truncated", "send the whole gzip stream")
    return b"".join(parts), offset


def _check_padding(body: bytes, offset: int) -> None:
    if body.count(0, offset) != len(body) - offset:
        raise Refused(400, "invalid_gzip", f"{len(body) - offset:,} bytes after the gzip data are not gzip",
                      TRAILING_HINT)


#: Content-Encoding values a body may have: none, or gzip (what the Segment and RudderStack SDKs send).
IDENTITY, GZIP = ("", "identity"), ("gzip", "x-gzip")
ENCODING_HINT = "send the body uncompressed or with Content-Encoding: gzip"


def check_encoding(header: str | None) -> str:
    """The request's Content-Encoding, normalised; Refused(415) for one the collector cannot
    undo (br, zstd, deflate, or a list of several), before its body is read."""
    encoding = (header or "").strip().lower()
    if encoding not in (*IDENTITY, *GZIP):
        raise Refused(415, "unsupported_encoding", f"Content-Encoding {header!r} is not supported",
                      ENCODING_HINT)
    return encoding


def check_gzip_header(body: bytes, encoding: str) -> bytes:
    """A body announced as gzip must be gzip (an unannounced gzip body is recognised anyway)."""
    if encoding in GZIP and body[:2] != GZIP_MAGIC:
        raise Refused(400, "invalid_gzip", "Content-Encoding says gzip but the body is not gzip",
                      "gzip the whole JSON body, or drop the Content-Encoding header")
    return body


def check_size(body: bytes, limit: int = MAX_BODY_BYTES) -> bytes:
    if len(body) > limit:
        raise Refused(413, "body_too_large", f"the request body is over {limit:,} bytes (decompressed)",
                      "send smaller batches (RudderStack SDK: lower upload_size)")
    return body


def parse_json(body: bytes) -> tuple[Any, bool]:
    """The body's value, and whether only Python's json could read it (a bare NaN from a Python
    SDK, 1e400, a lone surrogate: lenient.py). Python's parser runs only once orjson has
    refused the body; when it refuses too, the body is a 400 with orjson's reason."""
    try:
        return orjson.loads(body), False
    except orjson.JSONDecodeError as exc:
        try:
            return lenient.loads(body), True
        except (ValueError, RecursionError):
            raise Refused(400, "invalid_json", f"the body is not valid JSON: {exc}",
                          "send JSON (Content-Type: application/json, gzip allowed)") from None


def strip_bom(body: bytes) -> bytes:
    """A UTF-8 byte order mark (Windows tools, PowerShell) opens the text, it is no part of the
    JSON: left on, the first NDJSON event would be a dead letter and an array one dead letter."""
    return body.removeprefix(codecs.BOM_UTF8)


def not_empty(body: bytes) -> bytes:
    if not body.strip():
        raise Refused(400, "empty_body", "the request body is empty", "send at least one message")
    return body
