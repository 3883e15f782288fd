"""`parcours replay` reads NDJSON files line by line (jobs/replay.py: read_lines)."""

from __future__ import annotations

from pathlib import Path

from jobs.replay import read_lines


def test_a_byte_order_mark_opens_a_file_not_its_first_event(tmp_path: Path) -> None:
    # Windows tools save UTF-8 with a BOM; it used to make the first line a dead letter
    first, second = tmp_path / "a.ndjson", tmp_path / "b.ndjson"
    first.write_bytes(b'\xef\xbb\xbf{"event_id": "1"}\r\n\r\n{"event_id": "2"}\n')
    second.write_bytes(b'\xef\xbb\xbf{"event_id": "3"}\n\xef\xbb\xbf{"event_id": "4"}')
    assert list(read_lines([str(first), str(second)])) == [
        b'{"event_id": "1"}', b'{"event_id": "2"}', b'{"event_id": "3"}',
        b'\xef\xbb\xbf{"event_id": "4"}',  # inside a file it is the line's own bytes: a dead letter
    ]
