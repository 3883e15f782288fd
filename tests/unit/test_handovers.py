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


def by_person_messages(rt: Any, partition: int) -> list[dict[str, Any]]:
    """The by_person messages produced for `partition` since the last call (taken off the record)."""
    sent: list[tuple[str, dict[str, Any]]] = rt.producer.sent
    mine = [(topic, kw) for topic, kw in sent if topic == rt.topics.by_person.name and kw["partition"] == partition]
    sent[:] = [item for item in sent if item not in mine]
    return [codec.decode(kw["value"]) for _, kw in mine]


def test_a_hand_over_that_reaches_a_person_merged_on_meanwhile_follows_it_to_its_owner(tmp_path: Path) -> None:
    """Live mode, a cookie that signs in with an email and a login in the same second: the
    identity stage resolves the two events in two batches (they sit on two valid partitions),
    so the cookie person is merged into the email person (notice to the cookie's partition),
    and the email person into the login (notice to the email's partition) microseconds later.
    The cookie's sessions reach the email's partition after it has forwarded the email person
    to the login: they must follow the forward to the login's partition, not stay there under
    the login's id (flushed as a second session of the person seconds from the first)."""
    rt = recording_runtime(tmp_path)
    sessionizer = Sessionizer(rt)
    cookie, email, login = on(0, "anonymous_id", 1)[0], on(1, "email", 1)[0], on(2, "user_id", 1)[0]
    for partition in range(4):
        sessionizer.through[partition] = -1
    sessionizer.handle_all(0, [{"t": "events", "events": [
        person_event("a1", cookie, T0), person_event("a2", cookie, T0 + 1000)]}])
    sessionizer.handle_all(0, [{"t": "merge", "remaps": [[cookie, email]]}])  # hand-over to 1, still in flight
    sessionizer.handle_all(1, [{"t": "events", "events": [person_event("e1", email, T0 + 2000)]}])
    sessionizer.handle_all(1, [{"t": "merge", "remaps": [[email, login]]}])
    sessionizer.handle_all(2, [{"t": "events", "events": [person_event("u1", login, T0 + 3000)]}])
    sessionizer.handle_all(1, by_person_messages(rt, 1))  # the cookie's sessions arrive late
    sessionizer.handle_all(2, by_person_messages(rt, 2))
    sessionizer.handle_all(2, by_person_messages(rt, 2))  # anything the email's partition passed on

    assert not sessionizer.books[1].persons  # nothing stays behind on the email's partition
    assert not sessionizer.profiles[1]
    assert [sorted(s.event_ids) for s in sessionizer.books[2].persons[login]] == [["a1", "a2", "e1", "u1"]]
    assert sessionizer.profiles[2][login].events == 4
    assert not any(by_person_messages(rt, p) for p in range(4))
