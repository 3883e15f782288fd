"""The HTTP collector end to end: the real Segment and RudderStack Python SDKs (and plain
HTTP) against `parcours up`, through Kafka and the agents into ClickHouse.

strategy: one module fixture plays the whole scenario once: start `parcours up` with
PARCOURS_WRITE_KEYS set, send, end the input with a barrier on every raw partition (as
`parcours replay` does) and wait on GET /barriers/{id} until the sink has written everything
before it, then stop the stack with SIGINT. The tests check the recorded replies and query
ClickHouse with `parcours sql --json` afterwards: chDB is in-process, and `parcours up` holds
the data dir while it runs.
"""

from __future__ import annotations

import base64
import gzip
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Producer
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics.client import Client as SegmentClient
from segment.analytics.request import APIError as SegmentAPIError

from pipeline.barrier import send_end_of_input
from pipeline.embedded.broker import free_port
from pipeline.topics import topics
from tests.conftest import ROOT, query

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
USER, EMAIL = f"u-{RUN}", "Jane.Doe@Example.com"
SEGMENT_KEY, RUDDER_KEY = "segment-key", "rudder-key"


@dataclass
class Scenario:
    data_dir: Path
    ids: dict[str, list[str]] = field(default_factory=dict)  # source -> messageId / event_id
    replies: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    sdk_refusal: SegmentAPIError | None = None
    sdk_errors: list[Exception] = field(default_factory=list)  # the batching SDK's on_error
    sql_while_up: subprocess.CompletedProcess[str] | None = None
    browser: dict[str, tuple[int, dict[str, str]]] = field(default_factory=dict)  # method -> status, headers


def post(url: str, body: bytes, key: str | None, **headers: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    if key is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{key}:".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=15) as reply:
            return reply.status, orjson.loads(reply.read())
    except urllib.error.HTTPError as error:
        assert error.headers.get_content_type() == "application/json", (url, error.code)
        return error.code, orjson.loads(error.read() or b"{}")


def send_with_segment(url: str, run: Scenario) -> None:
    """An anonymous visit, the login (identify with traits.email), then the order, gzipped."""
    ids = run.ids["segment"] = [f"seg-{RUN}-{i}" for i in range(4)]
    client = SegmentClient(SEGMENT_KEY, host=url, sync_mode=True)
    client.page(anonymous_id=f"seg-anon-{RUN}", name="Home", properties={"path": "/"}, message_id=ids[0])
    client.track(anonymous_id=f"seg-anon-{RUN}", event="Product Viewed", properties={"sku": "S-1"},
                 message_id=ids[1])
    client.identify(user_id=USER, anonymous_id=f"seg-anon-{RUN}", traits={"email": EMAIL}, message_id=ids[2])
    SegmentClient(SEGMENT_KEY, host=url, sync_mode=True, gzip=True).track(
        user_id=USER, event="Order Completed", message_id=ids[3],
        properties={"revenue": 59.9, "currency": "EUR", "order_id": f"O-{RUN}-1"})
    try:
        SegmentClient("wrong-key", host=url, sync_mode=True).track(user_id=USER, event="x")
    except SegmentAPIError as error:
        run.sdk_refusal = error


def send_a_nan_with_segment(url: str, run: Scenario) -> None:
    """20 orders and one with revenue NaN, batched by the SDK's thread: Python's json writes a
    bare NaN, which no JSON parser reads; the SDK drops a batch answered with a 400."""
    ids = run.ids["nan"] = [f"nan-{RUN}-{i}" for i in range(21)]
    client = SegmentClient(SEGMENT_KEY, host=url, upload_interval=1.0,
                           on_error=lambda error, _batch: run.sdk_errors.append(error))
    for i, message_id in enumerate(ids):
        client.track(user_id=f"nan-{RUN}", event="Order Completed", message_id=message_id,
                     properties={"revenue": float("nan") if i == 10 else 1.5, "order_id": f"O-{message_id}"})
    client.shutdown()  # flush, then end its thread


def send_with_rudderstack(url: str, run: Scenario) -> None:
    """Another device of the same user (the RudderStack SDK gzips by default)."""
    ids = run.ids["rudderstack"] = [f"rud-{RUN}-{i}" for i in range(5)]
    client = RudderClient(RUDDER_KEY, host=url, sync_mode=True)
    client.page(anonymous_id=f"rud-anon-{RUN}", name="Pricing", message_id=ids[0])
    client.identify(user_id=USER, anonymous_id=f"rud-anon-{RUN}", traits={"email": EMAIL.lower()},
                    message_id=ids[1])
    client.screen(user_id=USER, name="Basket", message_id=ids[2])
    client.track(user_id=USER, event="Order Completed", message_id=ids[3],
                 properties={"revenue": 20.0, "currency": "EUR", "order_id": f"O-{RUN}-2"})
    client.alias(previous_id=f"rud-old-{RUN}", user_id=USER, message_id=ids[4])


def send_from_a_browser(url: str, run: Scenario) -> None:
    """As analytics.js does: the message to /v1/{first letter of its type}, as text/plain (no
    preflight), the write key in the body, from the shop's origin; and a preflight, as a
    browser sends before a request with an Authorization header."""
    run.ids["browser"] = [f"web-{RUN}"]
    message = {"type": "track", "event": "Product Viewed", "anonymousId": f"web-anon-{RUN}",
               "messageId": run.ids["browser"][0], "writeKey": SEGMENT_KEY,
               "context": {"page": {"url": "https://shop.example/p/1"}, "userAgent": "Mozilla/5.0"}}
    for method, path, body, headers in (
            ("POST", "/v1/t", orjson.dumps(message), {"Content-Type": "text/plain"}),
            ("OPTIONS", "/v1/batch", None, {"Access-Control-Request-Method": "POST",
                                            "Access-Control-Request-Headers": "authorization,content-type"})):
        request = urllib.request.Request(f"{url}{path}", data=body, method=method,
                                         headers={"Origin": "https://shop.example", **headers})
        with urllib.request.urlopen(request, timeout=15) as reply:
            run.browser[method] = (reply.status, dict(reply.headers))


def send_raw(url: str, run: Scenario) -> None:
    page = {"type": "page", "anonymousId": f"gz-anon-{RUN}", "messageId": f"gz-{RUN}", "name": "Gzip"}
    run.ids["gzip"] = [page["messageId"]]
    run.replies["gzip"] = post(f"{url}/v1/batch", gzip.compress(orjson.dumps({"batch": [page]})), SEGMENT_KEY,
                               **{"Content-Encoding": "gzip"})
    run.replies["wrong_key"] = post(f"{url}/v1/track", orjson.dumps(page), "wrong-key")
    run.replies["no_key"] = post(f"{url}/v1/track", orjson.dumps(page), None)
    run.replies["wrong_key_bad_body"] = post(f"{url}/v1/track", b"{not json", "wrong-key")
    # a hand-made client's retry: no messageId, no time of its own, sent again a moment later
    retried = {"anonymousId": f"retry-anon-{RUN}", "event": f"Retried {RUN}", "properties": {"n": 1}}
    for _ in range(2):
        run.replies["retried"] = post(f"{url}/v1/track", orjson.dumps(retried), SEGMENT_KEY)
        time.sleep(0.05)
    run.replies["malformed"] = post(f"{url}/v1/batch", b'{"batch": [', SEGMENT_KEY)
    run.replies["bad_gzip"] = post(f"{url}/v1/batch", b"\x1f\x8bnot gzip", SEGMENT_KEY, **{"Content-Encoding": "gzip"})
    run.replies["brotli"] = post(f"{url}/v1/batch", orjson.dumps({"batch": [page]}), SEGMENT_KEY,
                                 **{"Content-Encoding": "br"})
    run.replies["unknown_route"] = post(f"{url}/v2/batch", orjson.dumps({"batch": [page]}), SEGMENT_KEY)
    run.ids["group"] = [f"grp-{RUN}"]
    run.replies["group"] = post(f"{url}/v1/group", orjson.dumps({"userId": USER, "groupId": "G-1",
                                                                 "messageId": run.ids["group"][0]}), SEGMENT_KEY)
    run.ids["native"] = [f"nat-{RUN}-1", f"nat-{RUN}-2"]
    lines = [orjson.dumps({"event_id": event_id, "event_type": "store_visit", "channel": "store",
                           "occurred_at": "2026-11-03T10:00:00Z", "identifiers": {"loyalty_id": f"L-{RUN}"}})
             for event_id in run.ids["native"]]
    run.replies["native"] = post(f"{url}/v1/events", b"\n".join([lines[0], b"not json", lines[1]]), RUDDER_KEY,
                                 **{"Content-Type": "application/x-ndjson"})
    run.ids["members"] = [f"mem-{RUN}-1", f"mem-{RUN}-2"]  # `cat a.gz b.gz`: two gzip members, one body
    members = b"".join(gzip.compress(line.replace(native.encode(), member.encode()) + b"\n")
                       for line, native, member in zip(lines, run.ids["native"], run.ids["members"], strict=True))
    run.replies["members"] = post(f"{url}/v1/events", members, RUDDER_KEY, **{"Content-Encoding": "gzip"})


def start(data_dir: Path, port: int) -> tuple[subprocess.Popen[bytes], str]:
    env = {**os.environ, "PARCOURS_DATA_DIR": str(data_dir), "PARCOURS_HTTP_PORT": str(port),
           "PARCOURS_WRITE_KEYS": f"{SEGMENT_KEY}, {RUDDER_KEY}"}
    env.pop("PARCOURS_KAFKA_BOOTSTRAP", None)
    env.pop("PARCOURS_CLICKHOUSE_URL", None)
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "up.log"
    process = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "up"], cwd=ROOT, env=env,
                               stdout=open(log, "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115
    deadline = time.monotonic() + 120
    while not (match := re.search(r"Parcours is up\. Kafka: (\S+)", log.read_text())):
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)
    return process, match.group(1)


def end_of_input(bootstrap: str, http: str, log: Path) -> None:
    """A barrier after everything on every raw partition; wait until the sink has passed it."""
    barrier, raw = f"collector-{RUN}", topics().raw
    producer = Producer({"bootstrap.servers": bootstrap})
    send_end_of_input(producer, raw, barrier)
    producer.flush(10)
    deadline = time.monotonic() + 120
    while True:
        with urllib.request.urlopen(f"{http}/barriers/{barrier}", timeout=5) as reply:
            if len(orjson.loads(reply.read())["partitions"]) >= topics().facts.partitions:
                return
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    run = Scenario(tmp_path_factory.mktemp("collector") / "data")
    port = free_port()
    process, bootstrap = start(run.data_dir, port)
    url = f"http://127.0.0.1:{port}"
    try:
        send_with_segment(url, run)
        send_a_nan_with_segment(url, run)
        send_with_rudderstack(url, run)
        send_raw(url, run)
        send_from_a_browser(url, run)
        end_of_input(bootstrap, url, run.data_dir / "up.log")
        run.sql_while_up = subprocess.run(  # chDB allows one process per data dir: `up` holds it
            [sys.executable, "-m", "pipeline.cli", "sql", "SELECT 1"], cwd=ROOT, capture_output=True, text=True,
            env={**os.environ, "PARCOURS_DATA_DIR": str(run.data_dir)}, timeout=60, check=False)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(90)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert code == 0, (run.data_dir / "up.log").read_text()[-3000:]
    return run


def events(run: Scenario, *sources: str) -> list[dict[str, Any]]:
    ids = ", ".join(f"'{i}'" for source in sources for i in run.ids[source])
    return query(run.data_dir, "SELECT event_id, person_id, event_type, channel, touchpoint, revenue, order_id "
                               f"FROM parcours.v_events WHERE event_id IN ({ids})")


def test_both_sdks_events_land_under_one_person_with_the_orders(scenario: Scenario) -> None:
    rows = events(scenario, "segment", "rudderstack")
    assert sorted(r["event_id"] for r in rows) == sorted(scenario.ids["segment"] + scenario.ids["rudderstack"])
    # the anonymous page views before the logins, on two devices, stitched to the user
    assert len({r["person_id"] for r in rows}) == 1, rows
    by_id = {r["event_id"]: r for r in rows}
    seg, rud = scenario.ids["segment"], scenario.ids["rudderstack"]
    assert [by_id[i]["event_type"] for i in seg] == ["page_view", "product_view", "identify", "purchase"]
    assert [by_id[i]["event_type"] for i in rud] == ["page_view", "identify", "screen_view", "purchase", "alias"]
    assert (by_id[seg[0]]["touchpoint"], by_id[rud[2]]["channel"]) == ("Home", "app")
    orders = {r["order_id"]: r["revenue"] for r in rows if r["event_type"] == "purchase"}
    assert orders == {f"O-{RUN}-1": 59.9, f"O-{RUN}-2": 20.0}
    (identity,) = query(scenario.data_dir, "SELECT person_id, value FROM parcours.v_identities "
                                           f"WHERE kind = 'user_id' AND value = '{USER}'")
    assert identity["person_id"] == rows[0]["person_id"]


def test_a_browser_sdk_gets_readable_replies_and_its_short_routes(scenario: Scenario) -> None:
    status, headers = scenario.browser["POST"]
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "*", headers
    status, headers = scenario.browser["OPTIONS"]
    assert status == 204 and "POST" in headers["Access-Control-Allow-Methods"], headers
    assert {"authorization", "content-type"} <= set(headers["Access-Control-Allow-Headers"].lower().split(", "))
    (row,) = events(scenario, "browser")
    assert (row["event_type"], row["channel"]) == ("product_view", "web")


def test_no_raw_email_reaches_clickhouse(scenario: Scenario) -> None:
    emails = query(scenario.data_dir, "SELECT value FROM parcours.v_identities WHERE kind = 'email' "
                                      f"AND person_id IN (SELECT person_id FROM parcours.v_events "
                                      f"WHERE event_id = '{scenario.ids['segment'][2]}')")
    assert len(emails) == 1 and re.fullmatch(r"[0-9a-f]{32}", emails[0]["value"]), emails
    for table in ("events", "identities", "identity_links", "dead_letters", "sessions"):
        rows = query(scenario.data_dir, f"SELECT * FROM parcours.{table}")
        assert rows, table
        assert EMAIL.lower() not in orjson.dumps(rows).decode().lower(), table


def test_wrong_or_missing_write_key_is_401_with_a_hint(scenario: Scenario) -> None:
    for case, code in (("wrong_key", "invalid_write_key"), ("no_key", "missing_write_key")):
        status, body = scenario.replies[case]
        assert status == 401 and body["success"] is False and body["code"] == code
        assert "PARCOURS_WRITE_KEYS" in body["hint"]
    assert scenario.sdk_refusal is not None and scenario.sdk_refusal.status == 401


def test_a_wrong_write_key_is_401_before_the_body_is_judged(scenario: Scenario) -> None:
    status, body = scenario.replies["wrong_key_bad_body"]
    assert (status, body["code"]) == (401, "invalid_write_key")  # was 400 invalid_json


def test_a_retried_message_without_message_id_or_time_is_one_event(scenario: Scenario) -> None:
    assert scenario.replies["retried"] == (200, {"success": True, "messages": 1})
    rows = query(scenario.data_dir, "SELECT event_id FROM parcours.v_events "
                                    f"WHERE event_type = 'retried_{RUN}'")
    assert len(rows) == 1, rows  # was two: each delivery stamped another timestamp, hashed into the id


def test_gzip_body_accepted(scenario: Scenario) -> None:
    assert scenario.replies["gzip"] == (200, {"success": True, "messages": 1})
    (row,) = events(scenario, "gzip")
    assert (row["event_type"], row["touchpoint"]) == ("page_view", "Gzip")


def test_malformed_body_is_400_with_a_clear_message(scenario: Scenario) -> None:
    status, body = scenario.replies["malformed"]
    assert status == 400 and body["code"] == "invalid_json"
    assert "not valid JSON" in body["message"] and body["hint"]


def test_native_ndjson_endpoint_events_land_and_a_bad_line_is_a_dead_letter(scenario: Scenario) -> None:
    assert scenario.replies["native"] == (200, {"success": True, "messages": 3})
    rows = events(scenario, "native")
    assert sorted(r["event_id"] for r in rows) == scenario.ids["native"]
    assert {(r["event_type"], r["channel"]) for r in rows} == {("store_visit", "store")}
    dead = query(scenario.data_dir, "SELECT source, reason FROM parcours.dead_letters FINAL WHERE raw = 'not json'")
    assert len(dead) == 1 and dead[0]["source"].startswith("parcours.events.raw/")
    assert dead[0]["reason"].startswith("not_json")


def test_every_member_of_a_multi_member_gzip_body_lands(scenario: Scenario) -> None:
    assert scenario.replies["members"] == (200, {"success": True, "messages": 2})
    assert sorted(r["event_id"] for r in events(scenario, "members")) == scenario.ids["members"]


def test_a_nan_from_the_segment_sdk_costs_its_message_not_the_batch(scenario: Scenario) -> None:
    assert not scenario.sdk_errors, scenario.sdk_errors
    ids = scenario.ids["nan"]
    rows = events(scenario, "nan")
    assert sorted(r["event_id"] for r in rows) == sorted(ids[:10] + ids[11:])
    assert {r["revenue"] for r in rows} == {1.5}
    dead = query(scenario.data_dir, f"SELECT reason, raw FROM parcours.dead_letters FINAL WHERE raw LIKE '%{ids[10]}%'")
    assert len(dead) == 1 and '"revenue":NaN' in dead[0]["raw"], dead
    assert dead[0]["reason"].startswith("not_json: NaN is not a JSON number (send null or leave the field out)")


def test_bad_gzip_is_400_and_logged_as_one_warning_line(scenario: Scenario) -> None:
    status, body = scenario.replies["bad_gzip"]
    assert status == 400 and body["code"] == "invalid_gzip" and body["hint"]
    log = (scenario.data_dir / "up.log").read_text()
    assert "Traceback" not in log and " ERROR " not in log, log[-3000:]
    assert "WARNING pipeline.collector.routes: collector refused POST /v1/batch: 400 invalid_gzip" in log


def test_unsupported_encoding_and_unknown_route_answer_in_json(scenario: Scenario) -> None:
    status, body = scenario.replies["brotli"]
    assert (status, body["code"], body["success"]) == (415, "unsupported_encoding", False)
    assert "gzip" in body["hint"]
    status, body = scenario.replies["unknown_route"]
    assert (status, body["code"]) == (404, "not_found") and "/v1/batch" in body["hint"]


def test_group_is_accepted_and_becomes_a_dead_letter(scenario: Scenario) -> None:
    status, body = scenario.replies["group"]
    assert status == 200 and body["messages"] == 1 and "segment_unknown_type" in body["warnings"][0]
    dead = query(scenario.data_dir, "SELECT reason FROM parcours.dead_letters FINAL "
                                    f"WHERE raw LIKE '%{scenario.ids['group'][0]}%'")
    assert [row["reason"][:20] for row in dead] == ["segment_unknown_type"]


def test_sql_while_up_holds_the_data_dir_says_so_with_a_hint(scenario: Scenario) -> None:
    done = scenario.sql_while_up
    assert done is not None and done.returncode == 2, done
    message, hint = done.stderr.strip().splitlines()
    assert message.startswith("parcours: the embedded ClickHouse in ") and "held by another parcours process" in message
    assert hint.startswith("  hint: stop that process") and "Cannot lock" not in done.stderr
