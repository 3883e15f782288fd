"""Topic names and partition counts, read once from infra/kafka/topics.toml."""

from __future__ import annotations

import tomllib
import zlib
from dataclasses import dataclass
from functools import cache

from pipeline import INFRA


@dataclass(frozen=True)
class Topic:
    role: str
    name: str
    partitions: int
    compact: bool = False
    """Log compaction: the topic is a changelog, only the latest value per key matters."""


@dataclass(frozen=True)
class Topics:
    raw: Topic
    dlq: Topic
    valid: Topic
    links: Topic
    by_person: Topic
    sessions_changelog: Topic
    facts: Topic
    profiles: Topic

    def all(self) -> list[Topic]:
        return [self.raw, self.dlq, self.valid, self.links, self.by_person, self.sessions_changelog,
                self.facts, self.profiles]


@cache
def topics() -> Topics:
    data = tomllib.loads((INFRA / "kafka" / "topics.toml").read_text())["topics"]
    return Topics(**{role: Topic(role, t["name"], int(t["partitions"]), bool(t.get("compact", False)))
                      for role, t in data.items()})


def partition_of(key: str, partitions: int) -> int:
    """Stable key -> partition (crc32; the same in every process, unlike hash())."""
    return zlib.crc32(key.encode()) % partitions
