"""Topic names live in infra/kafka/topics.toml only: code refers to them by role."""

from __future__ import annotations

import re
from pathlib import Path

from pipeline.topics import partition_of, topics

ROOT = Path(__file__).resolve().parents[2]


def test_contract_topics_are_declared() -> None:
    names = {t.name for t in topics().all()}
    assert {"parcours.events.raw", "parcours.events.dlq", "parcours.profiles"} <= names
    assert all(t.partitions >= 1 for t in topics().all())


def test_no_topic_name_is_hard_coded_in_python() -> None:
    offenders = []
    for path in [*ROOT.glob("pipeline/**/*.py"), *ROOT.glob("jobs/**/*.py")]:
        for name in re.findall(r"[\"'](parcours\.[a-z_]+\.[a-z_.]+)[\"']", path.read_text()):
            if not name.startswith("parcours.events.raw/"):
                offenders.append((path.name, name))
    assert offenders == []


def test_partitioning_is_stable_across_processes() -> None:
    assert partition_of("person-1", 4) == partition_of("person-1", 4)
    assert {partition_of(f"k{i}", 4) for i in range(100)} == {0, 1, 2, 3}
