"""What `parcours replay` reads: NDJSON files, gzip or not, from disk, pipes or stdin.

strategy: an input is anything that exists and is not a directory ('-' = stdin), so named
pipes, `<(zcat f.gz)` and /dev/stdin work. Its first bytes decide how it is read: gzip magic
(1f 8b) -> decompressed as it is read, whatever its name; a UTF-16 byte order mark -> refused
(the lines would be dead letters). A regular file is looked at before the stack starts (~8 s);
a stream is read once only, so it is looked at when its turn comes (a peek, nothing consumed).
"""

from __future__ import annotations

import codecs
import gzip
import io
import stat
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from pipeline.errors import Terminal

GZIP_MAGIC = b"\x1f\x8b"
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
INPUT_HINT = "pass NDJSON files, or - for stdin"


def require_inputs(paths: list[str]) -> None:
    """Every input exists and is not a directory; a regular file is not UTF-16."""
    for path in paths:
        if path == "-":
            continue
        try:
            mode = Path(path).stat().st_mode
        except OSError:
            raise Terminal(f"no such file: {path}", hint=INPUT_HINT) from None
        if stat.S_ISDIR(mode):
            raise Terminal(f"{path} is a directory", hint=INPUT_HINT)
        if stat.S_ISREG(mode):  # a stream would be consumed by a look
            with open(path, "rb") as handle:
                check_head(path, handle.read(2))


def check_head(path: str, head: bytes) -> None:
    if head[:2] in UTF16_BOMS:
        raise Terminal(f"{path} is UTF-16 text: replay reads UTF-8 NDJSON",
                       hint=f"convert it first: iconv -f UTF-16 -t UTF-8 {path} > events.ndjson")


def open_input(path: str) -> BinaryIO:
    """The input's bytes, gunzipped when they are gzip; opened once, looked at with a peek."""
    handle: io.BufferedReader = sys.stdin.buffer if path == "-" else open(path, "rb")  # type: ignore[assignment]  # noqa: SIM115
    head = handle.peek(2)[:2]
    try:
        check_head(path, head)
    except Terminal:
        _close(handle)
        raise
    return gzip.GzipFile(fileobj=handle) if head == GZIP_MAGIC else handle


def read_lines(paths: list[str]) -> Iterator[bytes]:
    """Lines of each input ('-' = stdin), without line endings; blank lines are skipped."""
    for path in paths:
        handle = open_input(path)
        try:
            for number, line in enumerate(handle):
                line = line.rstrip(b"\r\n")
                if number == 0:
                    line = line.removeprefix(codecs.BOM_UTF8)  # files saved by Windows tools
                if line.strip():
                    yield line
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise Terminal(f"{path} is not valid gzip ({exc or 'truncated'})",
                           hint=f"check it with `gzip -t {path}`; the lines before the damage were sent") from None
        finally:
            _close(handle)


def _close(handle: BinaryIO) -> None:
    if isinstance(handle, gzip.GzipFile):
        inner = handle.fileobj
        handle.close()  # closes its own state, not the file it was given
        handle = inner  # type: ignore[assignment]
    if handle is not sys.stdin.buffer:
        handle.close()
