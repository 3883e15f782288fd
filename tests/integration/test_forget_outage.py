"""`forget` while ClickHouse refuses inserts (the real engine's TOO_MANY_PARTS) and the sink
holds the person's rows: it must not report `done` while rows of theirs are still on their
way, or they land after the delete and bring the person back, with the identities that would
find them already gone (an audit saw exactly that).

One scenario on the in-process embedded stack: the person's events replayed into the outage;
a forget with a short wait gives up (nothing erased, audit `failed`); a forget started during
the outage waits it out and erases everything once the sink has written what it held; another
customer's events stay."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Producer

from jobs.drain import PipelineBehind, in_flight
from jobs.forget import forget
from pipeline import codec
from pipeline.embedded.broker import EmbeddedBroker
from pipeline.embedded.stack import Stack
from pipeline.ingest.logic import IngestConfig
from pipeline.kafka import ensure_topics
from pipeline.settings import Settings
from pipeline.sink import clickhouse as ch
from pipeline.topics import topics
from tests.conftest import empty
from tests.integration.refusing import end_the_outage, remove_the_warm_up, replay_into_an_outage

pytestmark = pytest.mark.integration

EMAIL = " Fiona.Forget@Example.COM "


def event(event_id: str, at: str, event_type: str, **identifiers: str) -> dict[str, Any]:
    return {"event_id": event_id, "event_type": event_type, "occurred_at": f"2026-11-10T{at}:00Z",
            "channel": "web", "identifiers": identifiers}


EVENTS = [
    event("f-1", "10:00", "page_view", anonymous_id="a-F1"),
    event("f-2", "10:05", "login", anonymous_id="a-F1", user_id="u-fiona", email=EMAIL),
    event("f-3", "10:10", "page_view", anonymous_id="a-F2"),
    event("f-4", "10:15", "login", anonymous_id="a-F2", user_id="u-fiona"),
    event("f-5", "10:20", "purchase", anonymous_id="a-F2", user_id="u-fiona"),
    event("o-1", "10:02", "page_view", anonymous_id="a-O", user_id="u-other"),
    event("o-2", "10:07", "purchase", anonymous_id="a-O"),
]
HERS = [e["event_id"] for e in EVENTS if e["event_id"].startswith("f-")]


def left_of_her(client: Any) -> dict[str, Any]:
    rows = ch.query_rows(client, "SELECT groupArray(event_id), groupUniqArray(person_id) FROM parcours.v_events "
                                 "WHERE startsWith(event_id, 'f-')")
    events, persons = rows[0]
    sessions = ch.query_rows(client, "SELECT count() FROM parcours.v_sessions WHERE person_id IN {p:Array(String)}",
                             {"p": list(persons)})[0][0]
    ids = ch.query_rows(client, "SELECT count() FROM parcours.v_identities WHERE value IN ('u-fiona', 'a-F2')")[0][0]
    return {"events": sorted(events), "sessions": sessions, "identities": ids}


def test_forget_waits_for_the_rows_held_in_an_outage(tmp_path: Path, clickhouse: Any) -> None:
    empty(clickhouse)
    url = next(u for u, c in ch._clients.items() if c is clickhouse)
    source = tmp_path / "fiona.ndjson"
    source.write_bytes(b"\n".join(orjson.dumps(e) for e in EVENTS) + b"\n")
    settings = Settings.from_env({"PARCOURS_DATA_DIR": str(tmp_path / "data"), "PARCOURS_CLICKHOUSE_URL": url,
                                  "PARCOURS_PII_SALT": "forget-outage"})
    cfg = IngestConfig.build(settings.pii_salt)
    said: list[str] = []
    seen: dict[str, Any] = {}

    async def scenario() -> None:
        async with Stack(settings) as stack:
            assert stack.pipeline is not None and stack.pipeline.sink is not None
            topics = stack.pipeline.rt.topics

            def erase(request: str, wait_s: float) -> Any:
                return forget(clickhouse, cfg, "email", EMAIL, topics, bootstrap=stack.bootstrap,
                              request_id=request, settle_s=0.5, wait_s=wait_s, say=said.append)

            running = await replay_into_an_outage(stack, clickhouse, str(source))
            try:
                await asyncio.sleep(1.0)  # the rest of her rows reach the sink's buffer or wait in Kafka
                try:
                    first = await asyncio.to_thread(erase, "outage-short", 2.0)
                    seen["short"] = (first.status, first.deleted.get("events"))
                except PipelineBehind as behind:
                    seen["short"] = ("refused", str(behind))
                seen["during"] = left_of_her(clickhouse)
                waiting = asyncio.create_task(asyncio.to_thread(erase, "outage-wait", 90.0))
                await asyncio.sleep(2.0)
                assert not waiting.done(), "forget did not wait for the rows the sink holds"
            finally:
                end_the_outage(clickhouse)
            result = await waiting
            seen["waited"] = (result.status, result.deleted.get("events"))
            await running
            seen["after"] = left_of_her(clickhouse)
            seen["others"] = ch.query_rows(clickhouse, "SELECT event_id FROM parcours.v_events "
                                                       "WHERE startsWith(event_id, 'o-') ORDER BY event_id")

    asyncio.run(scenario())
    remove_the_warm_up(clickhouse)
    status, why = seen["short"]
    assert status == "refused", f"forget reported {status} while the sink held her rows"
    assert "nothing was erased" in why and "hint:" in why and "run the same command again" in why
    assert seen["during"]["events"] == []  # still held by the sink: nothing of hers in ClickHouse yet
    assert seen["waited"] == ("done", len(HERS))
    assert seen["after"] == {"events": [], "sessions": 0, "identities": 0}
    assert seen["others"] == [("o-1",), ("o-2",)]
    assert any("waiting for the pipeline" in line for line in said)
    audits = dict(ch.query_rows(clickhouse, "SELECT request_id, status FROM parcours.erasure_audit "
                                            "WHERE request_id LIKE 'outage-%'"))
    assert audits == {"outage-short": "failed", "outage-wait": "done"}


def test_an_earlier_forgets_notices_are_nothing_to_wait_for(tmp_path: Path) -> None:
    """Workers stopped, two erasures in a row: the first one's notices wait on by_person for a
    worker, and carry no facts. The second erasure used to wait 120 s for them, then give up."""
    embedded = EmbeddedBroker(tmp_path / "broker")
    bootstrap = embedded.start()
    try:
        ensure_topics(bootstrap, topics().all())
        by_person = topics().by_person.name
        prod = Producer({"bootstrap.servers": bootstrap})
        for partition, person in ((0, "p1"), (2, "p2"), (2, "p3")):
            prod.produce(by_person, codec.encode({"t": "forget", "person": person}), partition=partition)
        prod.flush(10)
        assert by_person not in in_flight(bootstrap, topics())
        prod.produce(by_person, codec.events([{"event_id": "e1"}]), partition=2)  # facts to come: wait
        prod.flush(10)
        assert in_flight(bootstrap, topics())[by_person] == 1
    finally:
        embedded.stop()
