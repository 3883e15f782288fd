"""Versions of person remaps across a restart, on the real broker: person_map keeps the remap
with the highest version, so a restarted worker's decisions must outrank the ones its previous
life wrote (some still in flight to ClickHouse when it died).

The previous life is its links messages, each with the version it gave its remaps (`k`). The
restarted worker's follower rebuilds the graph from them; its own count of what it learnt is
lower than the previous life's (that one also counted groups seen again with an earlier
event). Before the fix it decided with that low count, and the crash test found one person's
events split over two: the previous life's stale intermediate mapping won. Nor did it know which
identifiers the previous life had handed out to facts (all of them): a later merge left their
facts with the person merged away.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from pipeline import codec
from pipeline.embedded.broker import EmbeddedBroker
from pipeline.identity.follower import follow
from pipeline.identity.rules import node_id
from pipeline.kafka import ensure_topics, producer
from pipeline.runtime import Runtime
from pipeline.settings import Settings
from pipeline.topics import topics
from tests.conftest import fact_columns

pytestmark = pytest.mark.integration

PREVIOUS_LIFE = [  # (links, k): a1 joins t1, then t1 joins u1; m2 joins c2 then a2
    ([[["anonymous_id:a1", "device_id:t1"], 1_000, "e1"]], 4_000),
    ([[["device_id:t1", "user_id:u1"], 2_000, "e2"]], 4_007),
    ([[["email:m2", "crm_id:c2"], 3_000, "e3"]], 4_012),
    ([[["anonymous_id:a2", "email:m2"], 4_000, "e4"]], 4_020),
]


@pytest.fixture
def bootstrap(tmp_path: Path) -> Iterator[str]:
    broker = EmbeddedBroker(tmp_path / "broker")
    address = broker.start()
    ensure_topics(address, topics().all())
    yield address
    broker.stop()


def send_links(address: str, links: list[list[Any]], k: int) -> None:
    prod = Producer({"bootstrap.servers": address})
    prod.produce(topics().links.name, codec.encode({"t": "links", "links": links, "k": k}), partition=0)
    assert prod.flush(10) == 0


def person_merges(address: str) -> list[dict[str, Any]]:
    """Every person_merges row on the facts topic so far."""
    facts = topics().facts
    cons = Consumer({"bootstrap.servers": address, "group.id": "test-versions", "enable.auto.commit": False})
    cons.assign([TopicPartition(facts.name, p, 0) for p in range(facts.partitions)])
    rows: list[dict[str, Any]] = []
    try:
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < 2:
            message = cons.poll(0.2)
            if message is None or message.error():
                continue
            quiet_since = time.monotonic()
            decoded = fact_columns(message.value())
            if decoded is not None and decoded[0] == "person_merges":
                columns = decoded[1]
                rows += [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]
    finally:
        cons.close()
    return rows


def test_a_restarted_worker_outranks_its_previous_life_and_counts_on_from_what_it_reads(bootstrap: str,
                                                                                      tmp_path: Path) -> None:
    for links, k in PREVIOUS_LIFE:
        send_links(bootstrap, links, k)
    rt = Runtime(Settings.from_env({"PARCOURS_DATA_DIR": str(tmp_path / "data")}), bootstrap, producer(bootstrap))
    restarted_at: list[int] = []
    before: dict[str, str] = {}

    async def restart_then_learn() -> None:
        stopping = asyncio.Event()
        following = asyncio.create_task(follow(rt, stopping))
        await asyncio.wait_for(rt.graph_ready.wait(), 30)
        restarted_at.append(rt.graph.knowledge)
        # every identifier was handed out to facts by the previous life: the rebuilt graph
        # must remap them all when their person changes (it knew none of them before the fix)
        before.update({key: rt.graph.person_of(key) for links, _ in PREVIOUS_LIFE
                       for group, _, _ in links for key in group})
        send_links(bootstrap, [[["user_id:u1", "crm_id:c2"], 5_000, "e5"]], 9_000)  # another worker's
        deadline = time.monotonic() + 20
        while rt.graph.person_of("crm_id:c2") != rt.graph.person_of("user_id:u1"):
            assert time.monotonic() < deadline, "the follower did not apply the new link"
            await asyncio.sleep(0.05)
        await rt.flush_outputs()
        stopping.set()
        await following

    asyncio.run(restart_then_learn())
    # whatever it decides from now on outranks the previous life
    assert restarted_at[0] > max(k for _, k in PREVIOUS_LIFE)
    # the link read after the restart: the remaps it caused rank above its sender's (Lamport)
    rows = person_merges(bootstrap)
    person = rt.graph.person_of("user_id:u1")
    moved = {node_id(key) for key, was in before.items() if was != person}
    assert {r["from_person"] for r in rows} == moved and moved
    assert all(r["version"] > 9_000 and r["to_person"] == person for r in rows)
