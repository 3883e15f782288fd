"""`parcours forget`: the clean-up plan, the Kafka notices, the audit hash, the sessions stage's
part. The same plan against the real engine is in tests/integration/test_forget.py."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from jobs.forget import (
    NO_PERSONAL_DATA,
    ROLLUP,
    STEPS,
    Erasure,
    Subject,
    audit_hash,
    json_string_pattern,
    notices,
    render,
)
from jobs.rollup import rollup_query
from pipeline.errors import Terminal
from pipeline.identity.rules import node_id
from pipeline.ingest.logic import IngestConfig, lookup_value
from pipeline.sessions.agent import Sessionizer
from pipeline.topics import partition_of, topics
from tests.conftest import fact_columns
from tests.unit.recording import person_event, recording_runtime

SUBJECT = Subject(
    person_id=node_id("user_id:u1"),
    keys=("device_id:d1", "email:" + "a" * 32, "user_id:u1"),
    anchors=tuple(sorted({node_id("user_id:u1"), node_id("device_id:d1"), node_id("email:" + "a" * 32), "old"})),
    sessions=("s1", "s2"), events=("e1", "e2", "e3"), days=(date(2026, 11, 3),),
)


def test_every_step_uses_only_the_subjects_parameters() -> None:
    params = SUBJECT.parameters()
    for step in STEPS:
        names = re.findall(r"\{(\w+):", step.where + step.assign)
        assert names and set(names) <= set(params), step
    assert params["needles"] == ['"\\s*' + "a" * 32 + '\\s*"', '"\\s*d1\\s*"', '"\\s*u1\\s*"']


def test_a_needle_finds_the_value_padded_or_escaped_and_nothing_else() -> None:
    pattern = re.compile(json_string_pattern('u.1 "x"/é'))  # RE2 and Python agree on this syntax
    assert pattern.search('{"user_id": "  u.1 \\"x\\"/é "}')
    assert not pattern.search('{"user_id": "uX1 \\"x\\"/é"}') and not pattern.search('{"user_id": "u.1 \\"x\\"/é2"}')


def test_the_plan_deletes_before_it_scrubs_and_never_touches_the_audit() -> None:
    tables = [s.table for s in STEPS]
    scrubs = [i for i, s in enumerate(STEPS) if s.assign]
    assert scrubs and min(scrubs) > max(i for i, s in enumerate(STEPS) if not s.assign)
    assert {"events", "sessions", "identities", "person_merges", "identity_links", "identity_refusals",
            "identity_shared", "event_sessions", "session_merges", "attribution_markov", "dead_letters"} <= set(tables)
    assert "erasure_audit" in NO_PERSONAL_DATA and "erasure_audit" not in tables and ROLLUP not in tables
    assert [s.label for s in STEPS if s.assign] == ["events:scrubbed", "identities:scrubbed"]


def test_notices_reach_every_links_partition_the_persons_partition_and_the_profiles_topic() -> None:
    t = topics()
    out = notices(SUBJECT, t, at_ms=1000)
    person = SUBJECT.person_id
    links = [n for n in out if n.topic == t.links.name]
    assert sorted(n.partition for n in links) == list(range(t.links.partitions))
    assert orjson.loads(links[0].value or b"") == {"t": "forget", "keys": list(SUBJECT.keys), "person": person}
    by_person = {(n.partition, orjson.loads(n.value or b"")["person"]) for n in out if n.topic == t.by_person.name}
    assert (partition_of(person, t.by_person.partitions), person) in by_person
    assert {p for _, p in by_person} == set(SUBJECT.anchors)
    mine = [n for n in out if n.topic == t.profiles.name and n.key == person.encode()]
    assert [n.partition for n in mine] == [partition_of(person, t.profiles.partitions)] * 2
    assert orjson.loads(mine[0].value or b"") == {"type": "deleted", "person_id": person, "deleted_at": 1000,
                                                  "updated_at": 1000}
    assert mine[1].value is None  # the tombstone comes last: a compacted topic keeps nothing
    tombstones = {n.key for n in out if n.topic == t.profiles.name and n.value is None}
    assert tombstones == {a.encode() for a in SUBJECT.anchors}


def test_the_audit_hash_is_keyed_and_never_equals_a_stored_value() -> None:
    cfg = IngestConfig.build(b"salt-1")
    stored = lookup_value("email", " Jane.Doe@Example.com", cfg)
    assert audit_hash(cfg, "email", stored) == audit_hash(cfg, "email", lookup_value("email", "jane.doe@example.com", cfg))
    assert audit_hash(cfg, "email", stored) not in (stored, cfg.hasher.hash("email", "jane.doe@example.com"))
    assert audit_hash(IngestConfig.build(b"salt-2"), "email", stored) != audit_hash(cfg, "email", stored)
    assert len(audit_hash(cfg, "user_id", "u-1")) == 32 and "u-1" not in audit_hash(cfg, "user_id", "u-1")


def test_the_rollup_query_reads_the_current_events_of_the_days_only() -> None:
    mv = ("SELECT toDate(occurred_at) AS day, uniqExactState(s) AS sessions_state FROM (SELECT e.occurred_at, "
          "if(r.s != '', r.s, e.session_id) AS s FROM parcours.events AS e LEFT JOIN (SELECT event_id, session_id "
          "AS s FROM parcours.event_sessions WHERE event_id IN (SELECT event_id FROM parcours.events)) AS r "
          "ON r.event_id = e.event_id) GROUP BY day")
    query = rollup_query(mv)
    days = "SELECT * FROM parcours.events_current WHERE toDate(occurred_at) IN {days:Array(Date)}"
    assert query.count(days) == 2 and "FROM parcours.events " not in query and "parcours.events)" not in query
    assert query.startswith("SELECT toDate(occurred_at) AS day, uniqExactState(s) AS sessions_state FROM (SELECT")
    assert "FROM parcours.event_sessions WHERE event_id IN (SELECT event_id FROM (" in query
    with pytest.raises(Terminal):  # 0016's view: it rolled up the sessions as written
        rollup_query("SELECT toDate(occurred_at) AS day FROM parcours.events GROUP BY day")
    with pytest.raises(Terminal):
        rollup_query("SELECT 1 FROM parcours.events_v2")


def test_render_says_what_was_deleted_and_what_could_not_be() -> None:
    done = Erasure("r1", "email", "h", "done", SUBJECT, {"events": 3, "sessions": 0, "events:scrubbed": 1})
    text = render(done)
    assert "events 3" in text and "sessions" not in text.split("also")[0] and "events scrubbed 1" in text
    assert "parcours.events.dlq" in text and "not told" in text and "request r1" in text
    assert "nothing erased" in render(Erasure("r2", "email", "h", "not_found"))


# -- the sessions stage's part ----------------------------------------------------------------


def event(event_id: str, person: str, minute: int) -> dict[str, Any]:
    return person_event(event_id, person, 1_794_000_000_000 + minute * 60_000, event_type="purchase",
                        touchpoint="checkout", stage="purchase", revenue=10.0, currency="EUR")


def test_the_sessions_stage_forgets_a_persons_sessions_and_profile(tmp_path: Path) -> None:
    rt = recording_runtime(tmp_path)
    sessionizer = Sessionizer(rt)
    person, other = node_id("user_id:u1"), node_id("user_id:u2")
    partition = partition_of(person, rt.topics.by_person.partitions)
    sessionizer.handle_all(partition, [{"t": "events", "events": [event("e1", person, 0), event("e2", person, 90)]}])
    sessionizer.handle_all(partition_of(other, rt.topics.by_person.partitions),
                           [{"t": "events", "events": [event("e3", other, 0)]}])
    book = sessionizer.books[partition]
    sessions = book.persons[person]
    assert len(sessions) == 2 and sessionizer.profile(partition, person) is not None
    book.changed.clear()
    sent = len(rt.producer.sent)  # type: ignore[attr-defined]
    sessionizer.handle(partition, {"t": "forget", "person": person})
    assert person not in book.persons and person not in sessionizer.profiles[partition]
    assert sessionizer.profile(partition, person) is None and not any(s.alive for s in sessions)
    assert book.changed == {person}  # the changelog writes its tombstone
    sessionizer.flush_all()  # nothing of the person is emitted any more
    facts = [fact_columns(kw["value"]) for _, kw in rt.producer.sent[sent:]]  # type: ignore[attr-defined]
    emitted = [p for m in facts if m is not None for p in m[1].get("person_id", [])]
    assert emitted and person not in emitted  # the other person's session row, not this one's
    assert sessionizer.profile(partition_of(other, rt.topics.by_person.partitions), other) is not None
