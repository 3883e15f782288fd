"""`parcours forget`: a person erased from ClickHouse, from the running pipeline (graph,
sessions, profiles, HTTP) and from the profiles topic, the others untouched, the request
audited without raw values.

The live part runs in its own process (tests/integration/forget_live.py: the in-process stack,
a replay of simulated journeys plus a refused link naming the person's identifier, then the
erasure); the checks read the same data dir back through the CLI, like a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from jobs.forget import forget
from pipeline.identity.rules import node_id
from pipeline.ingest.logic import IngestConfig
from pipeline.topics import topics
from tests.conftest import ROOT, empty, query, run_cli

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def erased(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    data_dir = tmp_path_factory.mktemp("forget") / "data"
    env = {k: v for k, v in os.environ.items() if k not in ("PARCOURS_KAFKA_BOOTSTRAP", "PARCOURS_CLICKHOUSE_URL")}
    done = subprocess.run([sys.executable, "-m", "tests.integration.forget_live", str(data_dir), "150", "11"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    return data_dir, orjson.loads(done.stdout.strip().splitlines()[-1])


def literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def tokens(subject: dict[str, Any]) -> list[str]:
    """What would betray the person in a row: its ids (long hex or UUIDs, searched as they are,
    also inside the rollup's binary states) and its identifier values (searched as whole
    values: 'u-129' in a tuple or map, "u-129" inside JSON text)."""
    ids = [subject["person"], *subject["anchors"], *subject["sessions"], *subject["events"]]
    values = [key.split(":", 1)[1] for key in subject["keys"]]
    quoted = [f"{q}{v}{q}" for v in [*values, *subject["keys"]] for q in ("'", '"')]
    return ids + [v for v in values if len(v) == 32] + quoted


def mentions(data_dir: Path, subject: dict[str, Any], skip: tuple[str, ...] = ()) -> dict[str, int]:
    tables = [r["name"] for r in query(data_dir, "SELECT name FROM system.tables WHERE database = 'parcours' "
                                                 "AND engine NOT LIKE '%View%' ORDER BY name") if r["name"] not in skip]
    needles = "[" + ", ".join(literal(t) for t in tokens(subject)) + "]"
    union = " UNION ALL ".join(
        f"SELECT '{t}' AS t, count() AS n FROM parcours.{t} "
        f"WHERE arrayExists(x -> position(toString(tuple(*)), x) > 0, {needles})" for t in tables)
    return {r["t"]: r["n"] for r in query(data_dir, union) if r["n"]}


def test_the_running_pipeline_forgets_the_person(erased) -> None:  # type: ignore[no-untyped-def]
    _, subject = erased
    assert (subject["status"], subject["notified"]) == ("done", True)
    assert (subject["http_before"], subject["http_after"]) == (200, 404)
    assert subject["graph_knows"] == [] and subject["sessions_held"] == subject["profiles_held"] == 0
    documents = subject["profiles_topic"]
    assert documents[0][1]["type"] == "profile"  # it had profiles ...
    assert documents[-2][1]["type"] == "deleted" and documents[-2][1]["person_id"] == subject["person"]
    assert documents[-1][1] is None  # ... then a deletion notice and a tombstone, last
    assert subject["changelog_last"] == [True]  # the sessions changelog holds a tombstone too


def test_no_table_mentions_the_person_any_more(erased) -> None:  # type: ignore[no-untyped-def]
    data_dir, subject = erased
    assert subject["refusals_before"] == 1 and subject["deleted"]["events:scrubbed"] >= 1  # the scenario held
    assert subject["deleted"]["events"] == len(subject["events"]) > 0
    assert all(subject["deleted"][t] > 0 for t in ("sessions", "identities", "identity_links", "identity_refusals",
                                                   "attribution_markov"))
    assert mentions(data_dir, subject, skip=("erasure_audit",)) == {}


def test_other_persons_keep_their_events_and_the_rollup_stays_exact(erased) -> None:  # type: ignore[no-untyped-def]
    data_dir, subject = erased
    after = {r["person_id"]: r["n"] for r in query(data_dir, "SELECT person_id, count() AS n FROM parcours.v_events "
                                                             "GROUP BY person_id")}
    assert after == subject["events_per_person_before"]
    (link,) = query(data_dir, "SELECT person_id, mapKeys(identifiers) AS kinds FROM parcours.v_events AS v "
                              "INNER JOIN parcours.events AS e USING event_id WHERE event_id = 'forget-refused-link'")
    assert link == {"person_id": subject["other_person"], "kinds": ["user_id"]}  # kept, minus the erased id
    (kpi,) = query(data_dir, "SELECT (SELECT sum(events) FROM parcours.v_kpi_daily) AS rollup, "
                             "(SELECT count() FROM parcours.v_events) AS events")
    assert kpi["rollup"] == kpi["events"]


def test_the_audit_row_has_no_raw_value(erased) -> None:  # type: ignore[no-untyped-def]
    data_dir, subject = erased
    (row,) = query(data_dir, "SELECT person_id, kind, value_hash, status, notified, deleted, toString(tuple(*)) AS text "
                             "FROM parcours.erasure_audit WHERE request_id = 'live-1'")
    assert (row["person_id"], row["kind"], row["status"], row["notified"]) == (subject["person"], "email", "done", 1)
    assert row["deleted"]["events"] == len(subject["events"]) and len(row["value_hash"]) == 32
    email = subject["raw_email"].strip().lower()
    stored = [k.split(":", 1)[1] for k in subject["keys"]]
    assert email not in row["text"].lower() and not any(v in row["text"] for v in stored)


def test_the_cli_erases_by_any_identifier_and_says_when_nobody_matches(erased) -> None:  # type: ignore[no-untyped-def]
    data_dir, subject = erased
    again = run_cli(["forget", "email", subject["raw_email"]], data_dir)
    assert again.returncode == 1 and "nothing erased" in again.stdout and "hint:" in again.stderr
    typo = run_cli(["forget", "emial", "x"], data_dir)
    assert typo.returncode == 2 and "unknown identifier kind" in typo.stderr
    other = {"keys": [f"user_id:{subject['other_user']}"], "person": subject["other_person"]}
    done = run_cli(["forget", "user_id", subject["other_user"], "--request-id", "ticket-2"], data_dir)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"erased person {subject['other_person']}" in done.stdout and "not told" in done.stdout
    audits = {r["request_id"]: r["status"] for r in query(data_dir, "SELECT request_id, status FROM parcours.erasure_audit")}
    assert audits["ticket-2"] == "done" and list(audits.values()).count("not_found") == 1
    left = query(data_dir, f"SELECT count() AS n FROM parcours.v_events WHERE person_id = {literal(other['person'])}")
    assert left == [{"n": 0}]
    shown = run_cli(["identity", "show", "user_id", subject["other_user"]], data_dir)
    assert shown.returncode == 2 and "was erased by `parcours forget`" in shown.stderr and "ticket-2" in shown.stderr


def test_the_plan_on_literal_rows(clickhouse: Any) -> None:
    """Two persons, P (user u1, email hash hp, device d1) and Q (user u2), one event of Q's
    carrying P's email (a refused link): P goes, Q stays, minus P's email."""
    empty(clickhouse)
    p, q, day = node_id("user_id:u1"), node_id("user_id:u2"), datetime(2026, 11, 3, 10, tzinfo=UTC)
    ids = {"user_id": "u1", "email": "hp", "device_id": "d1"}
    clickhouse.insert("parcours.events", [
        ["e1", day, p, node_id("device_id:d1"), "s1", "page_view", "web", "home", "awareness", 0.0, "", "", None, None,
         {"device_id": "d1"}, "{}", "{}", day],
        ["e2", day, p, p, "s1", "purchase", "web", "checkout", "purchase", 30.0, "EUR", "", None, None, ids, "{}", "{}", day],
        ["e3", day, q, q, "s2", "purchase", "web", "checkout", "purchase", 20.0, "EUR", "", None, None,
         {"user_id": "u2", "email": "hp"}, "{}", "{}", day],
    ], column_names=["event_id", "occurred_at", "person_id", "anchor_id", "session_id", "event_type", "channel",
                     "touchpoint", "stage", "revenue", "currency", "order_id", "csat", "nps", "identifiers",
                     "properties", "context", "ingested_at"])
    clickhouse.insert("parcours.identities", [[k, v, p, node_id(f"{k}:{v}"), day] for k, v in ids.items()]
                      + [["user_id", "u2", q, q, day]],
                      column_names=["kind", "value", "person_id", "anchor_id", "first_seen"])
    clickhouse.insert("parcours.sessions", [[s, who, day, day, 1, ["web"], "", "", 1, 0.0, 1] for s, who in
                                            (("s1", p), ("s2", q))],
                      column_names=["session_id", "person_id", "started_at", "ended_at", "event_count", "channels",
                                    "entry_touchpoint", "exit_touchpoint", "converted", "revenue", "version"])
    clickhouse.insert("parcours.person_merges", [[node_id("device_id:d1"), p, "link", "e2", day, 1]],
                      column_names=["from_person", "to_person", "reason", "event_id", "merged_at", "version"])
    clickhouse.insert("parcours.identity_refusals", [["e3", "user_id:u2", "email:hp", "user_id", day]],
                      column_names=["event_id", "kept", "refused", "kind", "recorded_at"])
    clickhouse.insert("parcours.dead_letters", [[day, "raw/0/1", "not_json", '{"user_id": "u1", oops', ""],
                                                [day, "raw/0/2", "not_json", '{"user_id": "u11"', ""],
                                                [day, "raw/0/3", "too_big", '{"user_id": " u1 "}', ""]],
                      column_names=["received_at", "source", "reason", "raw", "replay_id"])
    cfg = IngestConfig.build(b"tests")
    result = forget(clickhouse, cfg, "user_id", "u1", topics(), request_id="literal-1")
    assert result.status == "done" and result.subject is not None
    assert (result.subject.events, result.subject.sessions) == (("e1", "e2"), ("s1",))
    assert {k: v for k, v in result.deleted.items() if v} == {
        "events": 2, "sessions": 1, "identities": 3, "identity_first_seen": 3, "person_merges": 1,
        "identity_refusals": 1, "dead_letters": 2, "events:scrubbed": 1, "kpi_daily_state:rebuilt": 2}
    left = clickhouse.query("SELECT event_id, person_id, identifiers FROM parcours.events FINAL").result_rows
    assert left == [("e3", q, {"user_id": "u2"})]
    # gone from the parts, not only masked: the setting that shows masked rows shows none
    unmasked = {"apply_deleted_mask": 0}
    assert clickhouse.query("SELECT event_id FROM parcours.events", settings=unmasked).result_rows == [("e3",)]
    assert clickhouse.query("SELECT session_id FROM parcours.sessions", settings=unmasked).result_rows == [("s2",)]
    assert clickhouse.query("SELECT value FROM parcours.identities FINAL").result_rows == [("u2",)]
    assert clickhouse.query("SELECT value FROM parcours.identity_first_seen").result_rows == [("u2",)]
    assert clickhouse.query("SELECT source FROM parcours.dead_letters").result_rows == [("raw/0/2",)]
    kpi = clickhouse.query("SELECT sum(events), sum(revenue) FROM parcours.v_kpi_daily").result_rows
    assert kpi == [(1, 20.0)]
    assert forget(clickhouse, cfg, "user_id", "u1", topics(), request_id="literal-2").status == "not_found"
    clickhouse.insert("parcours.identity_shared", [["device_id", "kiosk", node_id("device_id:kiosk"), day]],
                      column_names=["kind", "value", "anchor_id", "marked_at"])
    clickhouse.insert("parcours.identities", [["device_id", "kiosk", q, node_id("device_id:kiosk"), day]],
                      column_names=["kind", "value", "person_id", "anchor_id", "first_seen"])
    shared = forget(clickhouse, cfg, "device_id", "kiosk", topics(), request_id="literal-3")
    assert (shared.status, shared.subject, shared.deleted) == ("shared", None, {})
    assert clickhouse.query("SELECT count() FROM parcours.events").result_rows == [(1,)]
    audits = clickhouse.query("SELECT request_id, status FROM parcours.erasure_audit WHERE request_id LIKE 'literal-%' "
                              "ORDER BY request_id").result_rows
    assert audits == [("literal-1", "done"), ("literal-2", "not_found"), ("literal-3", "shared")]


def test_a_rerun_erases_rows_that_came_back_after_the_identities_were_gone(clickhouse: Any) -> None:
    """The state an erasure during a ClickHouse outage left behind (before forget drained the
    pipeline first): the request said done, then the person's events and session landed, with
    no identity left to find them. Run again, the request finds them through the person id
    its audit row recorded."""
    empty(clickhouse)
    p, day = node_id("user_id:u7"), datetime(2026, 11, 3, 10, tzinfo=UTC)
    cfg = IngestConfig.build(b"tests")
    clickhouse.insert("parcours.identities", [["user_id", "u7", p, p, day], ["user_id", "u8", "q8", "q8", day]],
                      column_names=["kind", "value", "person_id", "anchor_id", "first_seen"])
    assert forget(clickhouse, cfg, "user_id", "u7", topics(), request_id="rerun-1").status == "done"
    columns = ["event_id", "occurred_at", "person_id", "anchor_id", "session_id", "event_type", "channel",
               "identifiers", "ingested_at"]
    clickhouse.insert("parcours.events", [  # her rows in flight at the time, and someone else's
        ["late-1", day, p, node_id("device_id:d7"), "s7", "page_view", "web", {"device_id": "d7"}, day],
        ["late-2", day, p, p, "s7", "purchase", "web", {"user_id": "u7"}, day],
        ["other", day, "q8", "q8", "s8", "page_view", "web", {"user_id": "u8"}, day],
    ], column_names=columns)
    clickhouse.insert("parcours.sessions", [["s7", p, day, day, 2, ["web"], "", "", 1, 0.0, 1],
                                            ["s8", "q8", day, day, 1, ["web"], "", "", 0, 0.0, 1]],
                      column_names=["session_id", "person_id", "started_at", "ended_at", "event_count", "channels",
                                    "entry_touchpoint", "exit_touchpoint", "converted", "revenue", "version"])
    again = forget(clickhouse, cfg, "user_id", "u7", topics(), request_id="rerun-2")
    assert (again.status, again.deleted["events"], again.deleted["sessions"]) == ("done", 2, 1)
    assert again.subject is not None and again.subject.person_id == p
    left = clickhouse.query("SELECT event_id FROM parcours.events FINAL ORDER BY event_id").result_rows
    assert left == [("other",)]
    assert clickhouse.query("SELECT session_id FROM parcours.sessions FINAL").result_rows == [("s8",)]
    assert forget(clickhouse, cfg, "user_id", "u7", topics(), request_id="rerun-3").status == "not_found"
