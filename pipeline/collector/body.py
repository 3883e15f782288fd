"""Request bodies: decompression, the size limit and JSON parsing, each refusal with a hint."""

from __future__ import annotations

import codecs
import zlib
from typing import Any

import orjson

from pipeline.collector.errors import Refused

MAX_BODY_BYTES = 500 * 1024
"""Per request, decompressed (Segment's batch limit). It also keeps every message under a
broker's default 1 MB limit, so producing never fails for size: a message can outgrow its
body (re-written JSON: `1E15` -> `1000000000000000.0`, up to ~1.9 MB from 500 KiB), but the
broker counts the lz4-compressed batch, which that leaves near the body's size (measured:
a 495 KB body of such numbers -> 855 KB message -> 293 KB compressed)."""


def gunzip(body: bytes, limit: int = MAX_BODY_BYTES) -> bytes:
    """A gzip body decompressed, at most `limit` bytes. Recognised by its magic bytes, so a
    client that gzips without saying so is understood too (routes.py checks the header)."""
    if body[:2] != b"\x1f\x8b":
        return check_size(body, limit)
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise Refused(400, "invalid_gzip", f"the body is not valid gzip ({exc})",
                      "gzip the whole JSON body, or send it uncompressed") from None
    if not inflater.eof and len(out) <= limit:
        raise Refused(400, "invalid_gzip", "the gzip body is truncated", "send the whole gzip stream")
    return check_size(out, limit)


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
    if encoding in GZIP and body[:2] != b"\x1f\x8b":
        raise Refused(400, "invalid_gzip", "Content-Encoding says gzip but the body is not gzip",
                      "gzip the whole JSON body, or drop the Content-Encoding header")
    return body


def check_size(body: bytes, limit: int = MAX_BODY_BYTES) -> bytes:
    if len(body) > limit:
        raise Refused(413, "body_too_large", f"the request body is over {limit:,} bytes (decompressed)",
                      "send smaller batches (RudderStack SDK: lower upload_size)")
    return body


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
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
