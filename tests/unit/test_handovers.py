"""Hand-overs: the persons a batch of merges moves to another partition travel as few messages
(one per owning partition while they fit), and the receiving partition takes every one of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from pipeline import codec
from pipeline.identity.rules import node_id
from pipeline.sessions.agent import Sessionizer
from pipeline.topics import partition_of
from tests.unit.recording import person_event, recording_runtime

T0 = 1_794_000_000_000


def on(partition: int, prefix: str, count: int) -> list[str]:
    """`count` person ids owned by by_person partition `partition` (4 partitions)."""
    found = (node_id(f"{prefix}:{i}") for i in range(10_000))
    return [p for p in found if partition_of(p, 4) == partition][:count]


def test_handovers_are_split_by_size_and_keep_their_order() -> None:
    items = [codec.encode({"person": f"p{i}", "pad": "x" * 1000}) for i in range(600)]
    messages = codec.handovers(items)
    assert len(messages) == 3  # ~600 kB in 256 kB messages
    assert all(len(m) <= codec.HANDOVER_BYTES + 64 for m in messages)
    decoded = [codec.decode(m) for m in messages]
    assert {m["t"] for m in decoded} == {"handovers"}
    assert [h["person"] for m in decoded for h in m["handovers"]] == [f"p{i}" for i in range(600)]
    huge = codec.encode({"person": "big", "pad": "y" * (codec.HANDOVER_BYTES + 1)})
    assert [len(codec.decode(m)["handovers"]) for m in codec.handovers([items[0], huge, items[1]])] == [1, 1, 1]


def test_a_batch_of_merges_hands_persons_over_in_one_message(tmp_path: Path) -> None:
    rt = recording_runtime(tmp_path)
    sessionizer = Sessionizer(rt)
    source, target = 0, 1
    merged, into = on(source, "device_id", 30), on(target, "user_id", 30)
    for book in (source, target):
        sessionizer.through[book] = -1
    sessionizer.handle_all(source, [{"t": "events", "events": [
        person_event(f"e{i}", person, T0 + i * 60_000) for i, person in enumerate(merged)]}])
    sessionizer.handle_all(target, [{"t": "events", "events": [  # each target has a session beside
        person_event(f"t{i}", person, T0 + i * 60_000 + 1000) for i, person in enumerate(into)]}])
    rt.producer.sent.clear()  # type: ignore[attr-defined]
    sessionizer.handle_all(source, [{"t": "merge", "remaps": [list(pair) for pair in zip(merged, into, strict=True)]}])

    sent: list[tuple[str, dict[str, Any]]] = rt.producer.sent  # type: ignore[attr-defined]
    handed = [kw for topic, kw in sent if topic == rt.topics.by_person.name]
    assert [kw["partition"] for kw in handed] == [target]
    message = codec.decode(handed[0]["value"])
    assert [h["person"] for h in message["handovers"]] == into
    assert not sessionizer.books[source].persons  # the sessions left with the message

    rt.producer.sent.clear()  # type: ignore[attr-defined]
    sessionizer.handle_all(target, [message])
    book = sessionizer.books[target]
    assert sorted(book.persons) == sorted(into)
    assert all([s.event_count for s in book.persons[p]] == [2] for p in into)  # joined into one
    assert set(sessionizer.profiles[target].keys()) >= set(into)
    facts = [orjson.loads(kw["value"].split(b"\n", 1)[0]) for topic, kw in sent if topic == rt.topics.facts.name]
    assert [(f["table"], f["n"]) for f in facts] == [("session_merges", 30)]  # one message for all 30
