"""`parcours replay` reads NDJSON inputs line by line: files, gzip, pipes (jobs/replay_input.py)."""

from __future__ import annotations

import codecs
import gzip
import os
import threading
from pathlib import Path

import pytest

from jobs.replay import read_lines
from jobs.replay_input import require_inputs
from pipeline.errors import Terminal


def test_a_byte_order_mark_opens_a_file_not_its_first_event(tmp_path: Path) -> None:
    # Windows tools save UTF-8 with a BOM; it used to make the first line a dead letter
    first, second = tmp_path / "a.ndjson", tmp_path / "b.ndjson"
    first.write_bytes(b'\xef\xbb\xbf{"event_id": "1"}\r\n\r\n{"event_id": "2"}\n')
    second.write_bytes(b'\xef\xbb\xbf{"event_id": "3"}\n\xef\xbb\xbf{"event_id": "4"}')
    assert list(read_lines([str(first), str(second)])) == [
        b'{"event_id": "1"}', b'{"event_id": "2"}', b'{"event_id": "3"}',
        b'\xef\xbb\xbf{"event_id": "4"}',  # inside a file it is the line's own bytes: a dead letter
    ]


def test_gzip_is_read_by_its_magic_bytes_whatever_the_name(tmp_path: Path) -> None:
    packed = tmp_path / "events.ndjson"  # no .gz: the bytes decide
    packed.write_bytes(gzip.compress(b'{"event_id": "1"}\n\n{"event_id": "2"}\n'))
    assert list(read_lines([str(packed)])) == [b'{"event_id": "1"}', b'{"event_id": "2"}']
    broken = tmp_path / "broken.gz"
    broken.write_bytes(gzip.compress(b'{"event_id": "1"}\n' * 100)[:40])
    with pytest.raises(Terminal) as error:
        list(read_lines([str(broken)]))
    assert "not valid gzip" in str(error.value) and "gzip -t" in error.value.hint


def test_utf16_is_refused_before_the_stack_starts_with_a_hint(tmp_path: Path) -> None:
    for encoding in ("utf-16-le", "utf-16-be"):
        path = tmp_path / f"{encoding}.ndjson"
        path.write_bytes(codecs.BOM_UTF16_LE if encoding.endswith("le") else codecs.BOM_UTF16_BE)
        path.write_bytes(path.read_bytes() + '{"event_id": "1"}\n'.encode(encoding))
        with pytest.raises(Terminal) as error:
            require_inputs([str(path)])
        assert "UTF-16" in str(error.value) and "iconv -f UTF-16 -t UTF-8" in error.value.hint
        with pytest.raises(Terminal):
            list(read_lines([str(path)]))  # a stream is looked at when it is read


def test_named_pipes_and_process_substitution_are_inputs_read_once(tmp_path: Path) -> None:
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    payload = gzip.compress(b'{"event_id": "1"}\n{"event_id": "2"}\n')

    def write() -> None:
        with open(fifo, "wb") as pipe:  # blocks until the reader opens it; a second open would hang
            pipe.write(payload)

    writer = threading.Thread(target=write)
    writer.start()
    require_inputs([str(fifo)])  # exists and is not a directory: accepted, not read
    assert list(read_lines([str(fifo)])) == [b'{"event_id": "1"}', b'{"event_id": "2"}']
    writer.join(5)
    read, write_fd = os.pipe()  # what bash's <(zcat f.gz) passes: /dev/fd/N
    os.write(write_fd, b'{"event_id": "3"}\n')
    os.close(write_fd)
    try:
        require_inputs([f"/dev/fd/{read}"])
        assert list(read_lines([f"/dev/fd/{read}"])) == [b'{"event_id": "3"}']
    finally:
        os.close(read)
