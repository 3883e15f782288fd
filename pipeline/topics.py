"""Topic names, partition counts and topic configs, read once from infra/kafka/topics.toml."""

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
    config: tuple[tuple[str, str], ...] = ()
    """Kafka topic configs the topic is created with, as (name, value) pairs: e.g. compaction
    for a keyed changelog, no time limit for one that is not keyed (topics.toml says why)."""


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
    return Topics(**{role: Topic(role, t["name"], int(t["partitions"]),
                                 tuple((k, str(v)) for k, v in t.get("config", {}).items()))
                      for role, t in data.items()})


def partition_of(key: str, partitions: int) -> int:
    """Stable key -> partition (crc32; the same in every process, unlike hash())."""
    return zlib.crc32(key.encode()) % partitions
