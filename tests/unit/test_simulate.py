"""jobs.simulate: determinism, line validity, malformed/duplicate truth and realism features."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.simulate import (
    CHANNELS,
    EVENT_TYPES,
    MALFORMED_KINDS,
    Simulation,
    main,
    simulate,
    write_ndjson,
)

ROOT = Path(__file__).resolve().parents[2]
JUNK = set(tomllib.loads((ROOT / "schemas" / "identity.toml").read_text())["junk_values"])
SEGMENT_TYPES = set(tomllib.loads((ROOT / "schemas" / "segment.toml").read_text())["types"])
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$")


@pytest.fixture(scope="module")
def big() -> Simulation:
    return simulate(persons=2000, seed=11)


@pytest.fixture(scope="module")
def small() -> Simulation:
    return simulate(persons=300, seed=3)


def _valid(sim: Simulation) -> list[tuple[int, dict[str, Any]]]:
    """(line number, message) of the first occurrence of every valid event."""
    skip = set(sim.truth.malformed_lines) | set(sim.truth.duplicate_lines)
    return [(i, orjson.loads(line)) for i, line in enumerate(sim.lines) if i not in skip]


def _flat(m: dict[str, Any]) -> dict[str, Any]:
    """Native event or Segment message -> (event_id, event_type, occurred_at, channel, ids)."""
    if "event_type" in m:
        return {**m, "ids": m["identifiers"]}
    traits = {**m.get("context", {}).get("traits", {}), **m.get("traits", {})}
    ids = {"anonymous_id": m.get("anonymousId"), "user_id": m.get("userId"), **traits}
    event_type = "purchase" if m.get("event") == "Order Completed" else m["type"]
    return {"event_id": m["messageId"], "event_type": event_type, "occurred_at": m["timestamp"],
            "channel": "web", "ids": {k: v for k, v in ids.items() if v},
            "properties": m.get("properties", {})}


def _at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def _kind(line: bytes) -> str:
    """Which defect a line has ('valid' for none); each malformed line has exactly one."""
    if len(line) > 64 * 1024:
        return "oversized"
    try:
        line.decode()
    except UnicodeDecodeError:
        return "invalid_utf8"
    try:
        m = orjson.loads(line)
    except orjson.JSONDecodeError:
        return "pii_not_json" if b"@" in line else "not_json"
    if not isinstance(m, dict):
        return "json_array" if isinstance(m, list) else "json_string"
    if "type" in m and "event_type" not in m:
        return "valid"
    checks = [
        ("pii_missing_event_id", "event_id" not in m and "email" in m["identifiers"]),
        ("missing_event_id", "event_id" not in m),
        ("empty_event_id", m.get("event_id") == ""),
        ("missing_occurred_at", "occurred_at" not in m),
        ("bad_occurred_at", m.get("occurred_at") == "yesterday"),
        ("future_occurred_at", str(m.get("occurred_at")).startswith("2099")),
        ("empty_identifiers", m.get("identifiers") == {}),
        ("junk_identifiers", all(v in JUNK for v in m.get("identifiers", {}).values())),
        ("missing_channel", "channel" not in m),
        ("wrong_type", not isinstance(m.get("event_type"), str)),
    ]
    return next((kind for kind, hit in checks if hit), "valid")


def test_deterministic_for_a_seed() -> None:
    a, b = simulate(persons=120, seed=5), simulate(persons=120, seed=5)
    assert a == b
    assert simulate(persons=120, seed=6).lines != a.lines


def test_cli_is_deterministic_across_processes(tmp_path: Path) -> None:
    out, truth = tmp_path / "events.ndjson", tmp_path / "truth.json"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    cmd = [sys.executable, "-m", "jobs.simulate", "--persons", "40", "--seed", "9",
           "--out", str(out), "--truth", str(truth)]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, check=True)
    assert done.stdout == b"" and b"valid events" in done.stderr
    sim = simulate(persons=40, seed=9)
    assert out.read_bytes() == b"".join(line + b"\n" for line in sim.lines)
    data = orjson.loads(truth.read_bytes())
    assert data["valid_event_count"] == sim.truth.valid_event_count
    assert data["malformed_lines"] == sim.truth.malformed_lines


def test_main_and_write_ndjson(tmp_path: Path) -> None:
    assert main(["--persons", "20", "--seed", "2", "--out", str(tmp_path / "a.ndjson")]) == 0
    sim = simulate(persons=20, seed=2)
    write_ndjson(sim, tmp_path / "b.ndjson")
    assert (tmp_path / "a.ndjson").read_bytes() == (tmp_path / "b.ndjson").read_bytes()


def test_valid_lines_have_required_fields(big: Simulation) -> None:
    seen: set[str] = set()
    for _, m in _valid(big):
        if "event_type" not in m:
            assert m["type"] in SEGMENT_TYPES and m["messageId"] and m["anonymousId"]
            assert STAMP.match(m["timestamp"])
        else:
            assert m["event_type"] in EVENT_TYPES and m["channel"] in CHANNELS
            assert STAMP.match(m["occurred_at"]) and isinstance(m["touchpoint"], str)
            assert any(v and v.strip().lower() not in JUNK for v in m["identifiers"].values())
        event = _flat(m)
        assert event["event_id"] not in seen
        seen.add(event["event_id"])
    assert seen == set(big.truth.person_of_event)
    assert len(seen) == big.truth.valid_event_count


def test_malformed_lines_are_exactly_the_bad_ones(big: Simulation) -> None:
    bad = set(big.truth.malformed_lines)
    kinds = {i: _kind(line) for i, line in enumerate(big.lines)}
    assert {i for i, kind in kinds.items() if kind != "valid"} == bad
    assert {kinds[i] for i in bad} == set(MALFORMED_KINDS)
    written = b"\n".join(big.lines)
    pii = [big.lines[i] for i in bad if kinds[i].startswith("pii_")]
    assert pii and all(any(e.encode() in line for e in big.truth.raw_emails) for line in pii)
    assert all(e.encode() in written for e in big.truth.raw_emails)
    assert all(p.encode() in written for p in big.truth.raw_phones)


def test_duplicates_are_byte_identical_resends(big: Simulation) -> None:
    dups = big.truth.duplicate_lines
    assert 0.5 * 0.01 * len(big.lines) < len(dups) < 2 * 0.01 * len(big.lines)
    bad = set(big.truth.malformed_lines)
    first: dict[bytes, int] = {}
    for i, line in enumerate(big.lines):
        first.setdefault(line, i)
    for i in dups:
        earlier = first[big.lines[i]]
        assert earlier < i and earlier not in bad and i - earlier < 400


def test_purchase_revenue_matches_lines(big: Simulation) -> None:
    total = 0.0
    for _, m in _valid(big):
        event = _flat(m)
        if event["event_type"] == "purchase":
            assert event["properties"]["currency"] == "EUR" and event["properties"]["order_id"]
            total += event["properties"]["revenue"]
    assert big.truth.purchase_revenue == pytest.approx(round(total, 2), abs=0.005)
    assert big.truth.purchase_revenue > 0


def test_journey_shape(small: Simulation) -> None:
    truth, people = small.truth, defaultdict(list)
    for _, m in _valid(small):
        event = _flat(m)
        people[truth.person_of_event[event["event_id"]]].append(event)
    assert 8 <= truth.valid_event_count / len(people) <= 12
    buyers = sum(any(e["event_type"] == "purchase" for e in ev) for ev in people.values())
    assert 0.25 <= buyers / len(people) <= 0.45
    logged = sum(bool(ids) for ids in truth.user_ids_of_person.values())
    assert 0.5 <= logged / len(truth.user_ids_of_person) < 1
    channels = {e["channel"] for ev in people.values() for e in ev}
    assert {"web", "app", "email", "ads", "store", "call_center", "chat", "delivery"} <= channels
    assert {"billing", "survey"} <= channels
    logins = [e["ids"] for ev in people.values() for e in ev if e["event_type"] == "login"]
    assert any({"device_id", "anonymous_id", "user_id", "email"} <= set(i) for i in logins)


def test_shared_devices_span_several_persons(small: Simulation) -> None:
    persons, users = defaultdict(set), defaultdict(set)
    for _, m in _valid(small):
        event = _flat(m)
        device = event["ids"].get("device_id")
        if device:
            persons[device].add(small.truth.person_of_event[event["event_id"]])
            users[device].add(event["ids"].get("user_id"))
    kiosks = [d for d in persons if d.startswith("kiosk-")]
    tablets = [d for d in persons if d.startswith("tablet-")]
    assert kiosks and max(len(persons[d]) for d in kiosks) >= 5
    assert tablets and all(len(persons[d]) >= 2 for d in tablets)
    assert all(len(users[d] - {None}) == len(persons[d]) for d in tablets)
    own = [d for d in persons if d not in kiosks and d not in tablets]
    assert all(len(persons[d]) == 1 for d in own)


def test_email_and_phone_spelling_variants(small: Simulation) -> None:
    emails, phones = defaultdict(set), defaultdict(set)
    for raw in small.truth.raw_emails:
        emails[raw.strip().lower()].add(raw)
    for raw in small.truth.raw_phones:
        digits = re.sub(r"\D", "", raw)
        e164 = "+33" + (digits[2:] if digits.startswith("33") else digits[1:])
        assert re.fullmatch(r"\+33[67]\d{8}", e164), raw
        phones[e164].add(raw)
    assert max(len(v) for v in emails.values()) >= 3
    assert max(len(v) for v in phones.values()) >= 2


def test_arrival_order_differs_from_event_time(small: Simulation) -> None:
    latest = None
    late_app = local_shuffles = 0
    for _, m in _valid(small):
        event = _flat(m)
        at = _at(event["occurred_at"])
        if latest is not None and at < latest:
            late_app += event["channel"] == "app" and latest - at >= timedelta(hours=1)
            local_shuffles += latest - at < timedelta(minutes=5)
        latest = max(latest or at, at)
    assert late_app > 0 and local_shuffles > 0


def test_rates_zero_and_no_persons() -> None:
    sim = simulate(persons=50, seed=1, malformed_rate=0, duplicate_rate=0, segment_rate=0)
    assert not sim.truth.malformed_lines and not sim.truth.duplicate_lines
    assert all(b'"event_type"' in line for line in sim.lines)
    assert simulate(persons=0).lines == []


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 25))
def test_any_seed_yields_consistent_truth(seed: int, persons: int) -> None:
    sim = simulate(persons=persons, seed=seed, malformed_rate=0.05, duplicate_rate=0.05)
    bad = set(sim.truth.malformed_lines)
    assert {i for i, line in enumerate(sim.lines) if _kind(line) != "valid"} == bad
    assert len(sim.lines) == sim.truth.valid_event_count + len(bad) + len(
        sim.truth.duplicate_lines
    )
