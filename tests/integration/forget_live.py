"""Helper of test_forget.py, run in its own process (chDB allows one engine per process):
the in-process embedded stack (broker, agents, chDB, HTTP), a replay, then `jobs.forget`
against the running pipeline. Prints one JSON object: the subject, the state before, and what
the pipeline, its HTTP API and the profiles and changelog topics show afterwards.

  python -m tests.integration.forget_live DATA_DIR PERSONS SEED
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from confluent_kafka import Consumer, TopicPartition

from jobs.forget import forget
from jobs.replay import replay
from jobs.simulate import simulate, write_ndjson
from pipeline.embedded.broker import free_port
from pipeline.embedded.stack import Stack
from pipeline.ingest.logic import IngestConfig, lookup_value
from pipeline.settings import Settings
from pipeline.sink.clickhouse import query_rows

# A person with an email, a user id, several sessions and a conversion, and one of its
# identifiers never seen in the same event as a limited one (so another person's login typed
# with it is a refused link, not a shared mark); most identifiers first.
SUBJECTS = """
WITH (SELECT groupUniqArray(key) FROM (
          SELECT arrayJoin(identifiers) AS key FROM parcours.identity_links
          WHERE arrayExists(k -> splitByChar(':', k)[1] IN ('user_id', 'crm_id', 'loyalty_id'), identifiers)))
     AS with_limited
SELECT i.person_id AS person, groupArrayIf(i.value, i.kind = 'email') AS emails,
       arrayFilter(k -> NOT has(with_limited, k) AND splitByChar(':', k)[1] NOT IN ('user_id', 'crm_id', 'loyalty_id'),
                   groupArray(concat(i.kind, ':', i.value))) AS free
FROM parcours.v_identities AS i
INNER JOIN (SELECT person_id FROM parcours.v_sessions GROUP BY person_id HAVING count() >= 2) AS s
    ON s.person_id = i.person_id
INNER JOIN (SELECT DISTINCT person_id FROM parcours.v_conversions) AS c ON c.person_id = i.person_id
WHERE i.shared = 0
GROUP BY i.person_id
HAVING has(groupArray(i.kind), 'email') AND has(groupArray(i.kind), 'user_id') AND length(free) > 0
ORDER BY count() DESC, person
"""


def rows(stack: Stack, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    assert stack.clickhouse is not None
    return query_rows(stack.clickhouse, sql, params)


def get(url: str) -> int:
    """Blocking: call it in a thread, the server runs in this process's event loop."""
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def pick(stack: Stack, cfg: IngestConfig, raw_emails: set[str]) -> dict[str, Any]:
    raw_of = {lookup_value("email", e, cfg): e for e in sorted(raw_emails)}  # spelling variants: the last
    person, emails, free = rows(stack, SUBJECTS)[0]
    other_person, other_user = rows(stack, "SELECT person_id, value FROM parcours.v_identities WHERE kind = 'user_id' "
                                           "AND shared = 0 AND person_id != {p:String} ORDER BY value LIMIT 1",
                                    {"p": person})[0]
    return {"person": person, "raw_email": raw_of[emails[0]], "free_key": sorted(free)[0],
            "other_person": other_person, "other_user": other_user}


def refused_link(subject: dict[str, Any]) -> bytes:
    """Another person's login carrying one of the subject's identifiers: refused, so the event
    stays the other person's but names the subject's identifier."""
    kind, value = subject["free_key"].split(":", 1)
    return orjson.dumps({"event_id": "forget-refused-link", "event_type": "page_view", "channel": "web",
                         "occurred_at": "2026-11-14T20:00:00Z",
                         "identifiers": {"user_id": subject["other_user"], kind: value}})


def consume(bootstrap: str, topic: str, partitions: int) -> list[tuple[str, bytes | None]]:
    """Every (key, value) on the topic, in partition order."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"forget-{time.time_ns()}",
                         "enable.auto.commit": False})
    out: list[tuple[str, bytes | None]] = []
    try:
        for partition in range(partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            consumer.assign([TopicPartition(topic, partition, low)])
            position, deadline = low, time.monotonic() + 30
            while position < high and time.monotonic() < deadline:
                for message in consumer.consume(1000, 2.0):
                    if message.error() is None:
                        out.append(((message.key() or b"").decode(), message.value()))
                        position = message.offset() + 1
    finally:
        consumer.close()
    return out


async def main(data_dir: Path, persons: int, seed: int) -> dict[str, Any]:
    os.environ["PARCOURS_DATA_DIR"] = str(data_dir)
    os.environ.pop("PARCOURS_KAFKA_BOOTSTRAP", None)
    os.environ.pop("PARCOURS_CLICKHOUSE_URL", None)
    settings = Settings.from_env()
    cfg = IngestConfig.build(settings.pii_salt)
    sim = simulate(persons=persons, seed=seed)
    data_dir.mkdir(parents=True, exist_ok=True)
    write_ndjson(sim, data_dir / "journeys.ndjson")
    port = free_port()
    async with Stack(settings, web_port=port) as stack:
        assert stack.pipeline is not None and stack.clickhouse is not None
        rt, sessionizer = stack.pipeline.rt, stack.pipeline.sessionizer
        await replay(stack, [str(data_dir / "journeys.ndjson")], progress=False)
        subject = pick(stack, cfg, sim.truth.raw_emails)
        (data_dir / "refused.ndjson").write_bytes(refused_link(subject) + b"\n")
        await replay(stack, [str(data_dir / "refused.ndjson")], progress=False)
        person, url = subject["person"], f"http://127.0.0.1:{port}/profiles/email/{quote(subject['raw_email'])}"
        subject["refusals_before"] = rows(stack, "SELECT count() FROM parcours.identity_refusals "
                                                 "WHERE refused = {k:String}", {"k": subject["free_key"]})[0][0]
        subject["http_before"] = await asyncio.to_thread(get, url)
        subject["events_per_person_before"] = dict(rows(
            stack, "SELECT person_id, count() FROM parcours.v_events WHERE person_id != {p:String} GROUP BY person_id",
            {"p": person}))
        erasure = await asyncio.to_thread(forget, stack.clickhouse, cfg, "email", subject["raw_email"], rt.topics,
                                          bootstrap=stack.bootstrap, request_id="live-1", settle_s=1.0)
        assert erasure.subject is not None and erasure.subject.person_id == person, erasure
        keys = erasure.subject.keys
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (
                any(k in rt.graph for k in keys) or await asyncio.to_thread(get, url) != 404
                or any(person in b.persons for b in sessionizer.books.values())):
            await asyncio.sleep(0.2)
        subject.update({
            "status": erasure.status, "deleted": erasure.deleted, "notified": erasure.notified,
            "keys": list(keys), "anchors": list(erasure.subject.anchors),
            "sessions": list(erasure.subject.sessions), "events": list(erasure.subject.events),
            "graph_knows": [k for k in keys if k in rt.graph],
            "sessions_held": sum(person in b.persons for b in sessionizer.books.values()),
            "profiles_held": sum(person in p for p in sessionizer.profiles.values()),
            "http_after": await asyncio.to_thread(get, url),
            "profiles_topic": [(k, None if v is None else orjson.loads(v))
                               for k, v in consume(stack.bootstrap, rt.topics.profiles.name,
                                                   rt.topics.profiles.partitions) if k == person],
            "changelog_last": [v is None for k, v in consume(stack.bootstrap, rt.topics.sessions_changelog.name,
                                                             rt.topics.sessions_changelog.partitions)
                               if k == person][-1:],
        })
    return subject


if __name__ == "__main__":
    result = asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
    sys.stdout.write(orjson.dumps(result, default=str).decode() + "\n")
