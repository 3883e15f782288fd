"""The latency job end to end at a low rate: a worker process, the real broker and chDB; every
event's profile update is received and the figures are consistent."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.latency import measure

pytestmark = pytest.mark.integration


def test_every_profile_update_is_received_at_a_low_rate(tmp_path: Path) -> None:
    figures = measure(rate=200, seconds=2.0, data_dir=tmp_path)
    assert figures["events"] == figures["received"] == 400
    assert 0 < figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"] < 30_000
