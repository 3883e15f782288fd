"""`parcours forget KIND VALUE`: erase a person (GDPR right to erasure).

strategy: ClickHouse is the source of truth of the CLI process, so the person is found there:
the identifier (a raw email/phone is normalised and hashed exactly as ingest does) -> its
current person (`v_identities`) -> everything that leads to that person: its identifiers
(`kind:value` nodes), its anchors (the node ids of its identifiers, and every earlier person
id whose latest mapping is the person), its sessions (written under one of those ids, plus
the sessions merged into or out of them) and its events (resolved through one of its anchors,
or placed in one of its sessions). Then, in this order:

  0. with Kafka, the pipeline is drained first (jobs/drain.py): everything produced before
     the request must be in ClickHouse before the person is looked up there, or rows still on
     their way (a sink holding them while ClickHouse refuses inserts) would land after the
     delete and bring the person back without the identities that find them. A pipeline that
     does not catch up within the wait stops the command before anything is read or deleted;
  1. the running pipeline is told (when Kafka is configured): a `forget` message on every
     partition of the links topic (each worker's follower drops the identifiers from its
     graph; on every partition, so that a worker re-reading the topic meets it after every
     link that named them), one on the person partitions of the sessions stage (sessions
     and profile are dropped, no row emitted), and on `parcours.profiles` a deletion notice
     plus a tombstone per person id (a compacted copy of the topic forgets them);
  2. every table that holds the person's data is cleaned (STEPS) with lightweight DELETE;
     other persons' events and identity rows that still *name* one of the person's
     identifiers or ids are scrubbed in place (ALTER TABLE ... UPDATE, a mutation: the event
     stays with its person, minus the erased identifier); the KPI rollup is recomputed for
     the days the person's events were on;
  3. with Kafka, the clean-up runs once more after SETTLE_S: rows produced after the drain
     and on their way to ClickHouse when the pipeline was told are caught by the same ids;
  4. an audit row (`parcours.erasure_audit`, no raw value) records the request.

Every step is idempotent, so a request that failed part-way is simply run again. A request
run again after the identifier's rows are gone (a `done` request of an earlier version, whose
person came back from rows in flight) finds the person through the id its audit row recorded,
and erases what came back.

A *shared* identifier (a household email, a family tablet: `v_identities.shared`) names
nobody, and the events it carries belong to the persons of their sessions: nothing is erased
(status `shared`, exit 1); each customer is erased by an identifier of their own (their
events go; the shared identifier stays, with the other customers' events).

Lightweight DELETE works on every table here (ReplacingMergeTree, AggregatingMergeTree, on
chDB and on the ClickHouse server): rows are masked at once and dropped by the next merges.
Should a table refuse it (a server with lightweight deletes disabled, a table given a
projection), the same condition runs as `ALTER TABLE ... DELETE ... SETTINGS mutations_sync=2`:
a mutation that rewrites the parts, slower but universal.

What it cannot erase: the raw topic and the DLQ topic keep the producers' exact bytes (raw
email and phone included) and the internal topics keep hashed identifiers; they are not
rewritten, and expire with the topics' retention.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from jobs import drain, rollup
from jobs.rollup import ROLLUP
from pipeline import codec
from pipeline.errors import Terminal
from pipeline.identity.logic import key_of
from pipeline.identity.rules import Key, node_id
from pipeline.ingest.logic import IngestConfig, lookup_value
from pipeline.sink.clickhouse import lock, query_rows
from pipeline.topics import Topics, partition_of

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).parent / "sql" / "forget"
PERSON_OF = Path(__file__).parent / "sql" / "identity" / "person_of.sql"
#: Seconds between the two clean-up passes when the running pipeline was told (Kafka).
SETTLE_S = 5.0


def sql(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text()


def json_string_pattern(value: str) -> str:
    """An RE2 pattern for `value` as a JSON string in a rejected line, as ingest would have
    read it: padded with spaces (ingest trims identifiers), JSON escapes included. Every
    ASCII character but letters and digits is written `\\xHH`, so no value is read as syntax."""
    escaped = orjson.dumps(value).decode()[1:-1]
    body = "".join(c if c.isalnum() or not c.isascii() else f"\\x{ord(c):02x}" for c in escaped)
    return f'"\\s*{body}\\s*"'


@dataclass(frozen=True)
class Subject:
    """Everything that leads to one person in ClickHouse."""

    person_id: str
    keys: tuple[Key, ...]
    """Its identifiers, `kind:value` (email/phone hashed), as in the graph and identity_links."""
    anchors: tuple[str, ...]
    """Ids facts may carry for it: the person id, its identifiers' node ids, earlier person ids."""
    sessions: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    days: tuple[date, ...] = ()
    """Days (UTC) of its events: the KPI rollup rows of those days are recomputed."""

    def parameters(self) -> dict[str, Any]:
        return {
            "keys": list(self.keys), "anchors": list(self.anchors), "sessions": list(self.sessions),
            "events": list(self.events), "days": list(self.days),
            # identifier values as JSON strings, to find them in the (masked) dead letters
            "needles": sorted({json_string_pattern(key.split(":", 1)[1]) for key in self.keys}),
        }


@dataclass(frozen=True)
class Step:
    """One clean-up statement: rows of `table` matching `where` are deleted, or, for a scrub,
    updated with `assign` (other persons' rows that name one of the person's ids)."""

    table: str
    where: str
    assign: str = ""

    @property
    def label(self) -> str:
        return f"{self.table}:scrubbed" if self.assign else self.table


#: Every table that holds personal data, and which of its rows are the person's. A schema test
#: checks that each table of the migrations is either here or in NO_PERSONAL_DATA.
STEPS: tuple[Step, ...] = (
    Step("events", "anchor_id IN {anchors:Array(String)} OR session_id IN {sessions:Array(String)} "
                   "OR event_id IN {events:Array(String)}"),
    Step("event_sessions", "event_id IN {events:Array(String)} OR session_id IN {sessions:Array(String)}"),
    Step("sessions", "person_id IN {anchors:Array(String)} OR session_id IN {sessions:Array(String)}"),
    Step("session_merges", "from_session IN {sessions:Array(String)} OR to_session IN {sessions:Array(String)}"),
    Step("identities", "concat(kind, ':', value) IN {keys:Array(String)} OR anchor_id IN {anchors:Array(String)}"),
    Step("identity_first_seen", "concat(kind, ':', value) IN {keys:Array(String)}"),
    Step("person_merges", "from_person IN {anchors:Array(String)} OR to_person IN {anchors:Array(String)}"),
    Step("identity_links", "hasAny(identifiers, {keys:Array(String)})"),
    Step("identity_refusals", "kept IN {keys:Array(String)} OR refused IN {keys:Array(String)}"),
    Step("identity_shared", "concat(kind, ':', value) IN {keys:Array(String)} OR anchor_id IN {anchors:Array(String)}"),
    Step("attribution_markov", "person_id IN {anchors:Array(String)} OR conversion_id IN {events:Array(String)}"),
    # Rejected input is masked (no raw email/phone) but may carry the person's other ids.
    Step("dead_letters", "arrayExists(needle -> match(raw, needle), {needles:Array(String)})"),
    # Another person's event that carried one of the person's identifiers (a refused link: a
    # login typed with this email) keeps its person, minus that identifier; an event or
    # identity row written under one of the person's ids but re-attributed since (a split)
    # keeps its anchor, which the views follow anyway.
    Step("events", "hasAny(arrayMap((k, v) -> concat(k, ':', v), mapKeys(identifiers), mapValues(identifiers)), "
                   "{keys:Array(String)}) OR person_id IN {anchors:Array(String)}",
         assign="identifiers = mapFilter((k, v) -> NOT has({keys:Array(String)}, concat(k, ':', v)), identifiers), "
                "person_id = if(has({anchors:Array(String)}, person_id), anchor_id, person_id)"),
    Step("identities", "person_id IN {anchors:Array(String)}", assign="person_id = anchor_id"),
)

#: The KPI rollup (0007) holds no row per person, but its states are not anonymous either:
#: revenue, CSAT and NPS are kept as sets of (event_id, value) with the event ids in clear, and
#: events, visitors (anchors) and sessions as sets of 128-bit hashes of the ids. So it is
#: personal data in the GDPR sense (pseudonymous), and an aggregate state cannot be edited:
#: the rows of the days the person's events were on are deleted and recomputed from the
#: remaining events (jobs/rollup.py).

#: Tables that hold no customer's personal data, and why.
NO_PERSONAL_DATA: dict[str, str] = {
    "schema_migrations": "the migrations applied",
    "pipeline_barriers": "end-of-input markers: replay (and forget) barrier ids and partitions",
    "conversion_types": "reference data (schemas/taxonomy.toml)",
    "channel_taxonomy": "reference data (schemas/taxonomy.toml)",
    "after_sales_stages": "reference data (schemas/taxonomy.toml)",
    "attribution_settings": "reference data (schemas/attribution.toml)",
    "replay_runs": "replay ledger: file names, host, pid",
    "pii_salt": "a fingerprint of the PII salt (a keyed hash of a fixed text)",
    "erasure_audit": "the erasure log itself: a keyed hash of the identifier and the erased "
                     "person's pseudonymous id, kept as the record that the request was carried out",
}


@dataclass(frozen=True)
class Notice:
    """One Kafka message for the running pipeline or the profile consumers."""

    topic: str
    partition: int
    key: bytes | None
    value: bytes | None
    """None: a tombstone."""


@dataclass
class Erasure:
    request_id: str
    kind: str
    value_hash: str
    status: str
    """done | not_found | shared (the identifier names nobody: nothing erased) | failed"""
    subject: Subject | None = None
    deleted: dict[str, int] = field(default_factory=dict)
    notified: bool = False
    requested_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def forget(client: Client, cfg: IngestConfig, kind: str, raw_value: str, topics: Topics,
           bootstrap: str | None = None, request_id: str | None = None,
           settle_s: float = SETTLE_S, wait_s: float = drain.WAIT_S,
           say: Callable[[str], None] = log.info, replication: int = -1) -> Erasure:
    """Erase the person `kind`/`raw_value` belongs to; `bootstrap` set = drain the pipeline
    on that Kafka cluster first (drain.PipelineBehind after `wait_s`: nothing erased) and tell
    it too (`replication`: of topics missing there, Settings.kafka_replication). Always
    records an audit row."""
    if kind not in cfg.ranks:
        raise Terminal(f"unknown identifier kind {kind!r}",
                       hint=f"one of: {', '.join(sorted(cfg.ranks, key=cfg.ranks.__getitem__))}")
    value = lookup_value(kind, raw_value, cfg)
    result = Erasure(request_id or uuid.uuid4().hex, kind, audit_hash(cfg, kind, value), "failed")
    try:
        if bootstrap:
            drain.drain(bootstrap, client, topics, wait_s, say)
        found = query_rows(client, PERSON_OF.read_text(), {"kind": kind, "value": value})
        if found and found[0][1]:
            result.status = "shared"
            return result
        subject = find(client, key_of(kind, value), found[0][0] if found else None, result.value_hash)
        if subject is None:
            result.status = "not_found"
            return result
        result.subject = subject
        if bootstrap:
            publish(bootstrap, notices(subject, topics, now_ms()), replication)
            result.notified = True
        result.deleted = erase(client, subject)
        if result.notified and settle_s > 0:
            time.sleep(settle_s)
            for label, rows in erase(client, subject).items():
                result.deleted[label] = result.deleted.get(label, 0) + rows
        result.status = "done"
        return result
    finally:
        record(client, result)


def audit_hash(cfg: IngestConfig, kind: str, value: str) -> str:
    """The identifier in the audit: keyed like ingest's hashes, but under its own domain, so
    it never equals a value of the fact tables (nor links back to them)."""
    return cfg.hasher.hash(f"erasure:{kind}", value)


def find(client: Client, key: Key, person: str | None, value_hash: str) -> Subject | None:
    """The person the identifier names today; else, if an earlier request erased it, what is
    left of the person(s) that request recorded (rows that were on their way then). None:
    nothing to erase."""
    if person is not None:
        return collect(client, key, person)
    earlier = [row[0] for row in query_rows(client, sql("erased"), {"kind": key.split(":", 1)[0],
                                                                      "value_hash": value_hash})]
    subjects = [s for s in (collect(client, key, p) for p in earlier) if s.sessions or s.events or len(s.keys) > 1]
    return joined(subjects) if subjects else None


def joined(subjects: list[Subject]) -> Subject:
    """Several subjects as one (the first one's person id names it)."""
    if len(subjects) == 1:
        return subjects[0]

    def union(name: str) -> tuple[Any, ...]:
        return tuple(sorted({item for s in subjects for item in getattr(s, name)}))

    return Subject(subjects[0].person_id, union("keys"), union("anchors"), union("sessions"), union("events"),
                   union("days"))


def collect(client: Client, key: Key, person: str) -> Subject:
    """Everything that leads to `person`, found through its identifier `key`."""
    keys = sorted({key, *(key_of(k, v) for k, v in query_rows(client, sql("identifiers"), {"person": person}))})
    earlier = [row[0] for row in query_rows(client, sql("anchors"), {"person": person})]
    anchors = tuple(sorted({person, *earlier, *(node_id(k) for k in keys)}))
    sessions = tuple(row[0] for row in query_rows(client, sql("sessions"), {"anchors": list(anchors)}))
    events = query_rows(client, sql("events"), {"anchors": list(anchors), "sessions": list(sessions)})
    return Subject(person, tuple(keys), anchors, sessions, tuple(e for e, _ in events),
                   tuple(sorted({day for _, day in events})))


def erase(client: Client, subject: Subject) -> dict[str, int]:
    """Run STEPS, then rebuild the rollup; rows affected per step label."""
    params = subject.parameters()
    counts: dict[str, int] = {}
    for step in STEPS:
        rows = int(query_rows(client, f"SELECT count() FROM parcours.{step.table} WHERE {step.where}", params)[0][0])
        if rows:
            (scrub if step.assign else delete)(client, step, params)
        counts[step.label] = counts.get(step.label, 0) + rows
    counts[f"{ROLLUP}:rebuilt"] = rollup.restate(client, subject.days)
    return counts


def delete(client: Client, step: Step, params: dict[str, Any]) -> None:
    with lock:
        try:
            client.command(f"DELETE FROM parcours.{step.table} WHERE {step.where}", parameters=params)
        except ClickHouseError as exc:
            if not lightweight_refused(exc):
                raise
            log.warning("lightweight DELETE refused on %s (%s): using a mutation", step.table, str(exc)[:120])
            client.command(f"ALTER TABLE parcours.{step.table} DELETE WHERE {step.where}", parameters=params,
                           settings={"mutations_sync": 2})
            return
        # A lightweight DELETE only masks the rows until their parts merge: a query with
        # `SETTINGS apply_deleted_mask = 0` still reads them. Rewrite the parts that hold them.
        client.command(f"ALTER TABLE parcours.{step.table} APPLY DELETED MASK", settings={"mutations_sync": 2})


def scrub(client: Client, step: Step, params: dict[str, Any]) -> None:
    with lock:
        client.command(f"ALTER TABLE parcours.{step.table} UPDATE {step.assign} WHERE {step.where}",
                       parameters=params, settings={"mutations_sync": 2})


def lightweight_refused(exc: Exception) -> bool:
    text = str(exc)
    return any(s in text for s in ("NOT_IMPLEMENTED", "SUPPORT_IS_DISABLED", "ightweight"))


def notices(subject: Subject, topics: Topics, at_ms: int) -> list[Notice]:
    """The messages that erase the person from the running pipeline and its consumers."""
    person = subject.person_id
    ids = [person, *(a for a in subject.anchors if a != person)]
    links = codec.encode({"t": "forget", "keys": list(subject.keys), "person": person})
    out = [Notice(topics.links.name, p, None, links) for p in range(topics.links.partitions)]
    out += [Notice(topics.by_person.name, partition_of(i, topics.by_person.partitions), None,
                   codec.encode({"t": "forget", "person": i})) for i in ids]
    profiles = topics.profiles
    out.append(Notice(profiles.name, partition_of(person, profiles.partitions), person.encode(),
                      codec.encode(deletion_notice(person, at_ms))))
    out += [Notice(profiles.name, partition_of(i, profiles.partitions), i.encode(), None) for i in ids]
    return out


def deletion_notice(person: str, at_ms: int) -> dict[str, Any]:
    """On `parcours.profiles`, beside profile documents and merge notices
    (pipeline/profiles/state.py): forget everything about this person."""
    return {"type": "deleted", "person_id": person, "deleted_at": at_ms, "updated_at": at_ms}


def publish(bootstrap: str, messages: list[Notice], replication: int = -1) -> None:
    from pipeline.kafka import ensure_topics, flush, produce, producer
    from pipeline.topics import topics

    ensure_topics(bootstrap, topics().all(), replication=replication)
    prod = producer(bootstrap)
    for m in messages:
        produce(prod, m.topic, m.value, partition=m.partition, key=m.key)  # type: ignore[arg-type]
    flush(prod, timeout=30.0)


def record(client: Client, result: Erasure) -> None:
    subject = result.subject
    row = [result.request_id, result.requested_at, datetime.now(UTC), result.kind, result.value_hash,
           subject.person_id if subject else "", len(subject.keys) if subject else 0, result.deleted,
           int(result.notified), result.status]
    with lock:
        client.insert("parcours.erasure_audit", [row], column_names=[
            "request_id", "requested_at", "completed_at", "kind", "value_hash", "person_id", "identifiers",
            "deleted", "notified", "status"])


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def render(result: Erasure) -> str:
    if result.subject is None:
        why = (f"this {result.kind} is shared by several customers (marked shared): it names nobody"
               if result.status == "shared" else f"no person has {result.kind} with that value")
        return f"{why}: nothing erased\naudit: request {result.request_id}, status {result.status}"
    s = result.subject
    lines = [f"erased person {s.person_id}: {len(s.keys)} identifier(s), {len(s.anchors)} id(s) in facts, "
             f"{len(s.sessions)} session(s), {len(s.events)} event(s)"]
    deleted = {k: v for k, v in result.deleted.items() if ":" not in k}
    lines.append("  rows deleted: " + (", ".join(f"{t} {n:,}" for t, n in deleted.items() if n) or "none"))
    other = {k: v for k, v in result.deleted.items() if ":" in k and v}
    if other:
        lines.append("  also: " + ", ".join(f"{k.replace(':', ' ')} {n:,}" for k, n in other.items()))
    lines.append("  pipeline: told on the links, by_person and profiles topics (deletion notice + tombstone)"
                 if result.notified else
                 "  pipeline: not told (embedded broker: no pipeline outlives a command; "
                 "set PARCOURS_KAFKA_BOOTSTRAP to reach running workers)")
    lines.append("  not erased: raw bytes on parcours.events.raw and parcours.events.dlq "
                 "(the producers' quarantine) expire with the topics' retention")
    lines.append(f"audit: request {result.request_id}, status {result.status} (parcours.erasure_audit)")
    return "\n".join(lines)
