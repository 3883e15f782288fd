"""Personal data scan (CONTRACT §2: raw email and phone never reach an internal topic,
ClickHouse or a log line).

A simulated dataset (raw emails and phones in identifiers and traits, malformed lines among
them) plus hand-written lines that put emails and phones in odd places is replayed through the
embedded stack at DEBUG level (tests/integration/pii_scan_run.py, its own process: the broker
is memory-only). Then every topic but the raw input and the DLQ (both keep the exact bytes by
contract), every ClickHouse table of `parcours`, the logs and the files of the data dir are
searched for every email and phone of the dataset, as written, lower-cased, in E.164 and as
digits only. The same scanner must find them in the input and on the DLQ topic, or it proves
nothing.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import orjson
import pytest

from jobs.simulate import simulate
from pipeline.ingest.pii import normalise_phone
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

TOPICS = tomllib.loads((ROOT / "infra" / "kafka" / "topics.toml").read_text())["topics"]
#: Exact bytes by contract: the input and its quarantine.
EXEMPT = {TOPICS["raw"]["name"], TOPICS["dlq"]["name"]}
STAMP = "2026-11-03T10:15:22.120Z"

ODD_EMAILS = {"Zoe.Hand@Example.net", "odd.place@exemple.fr", "key.name@mail.example.org", "segment.user@example.com",
              "broken.line@example.com", "login.email@example.com", "evt.id@example.com", "ctx.only@example.com",
              "old.event@example.com"}
ODD_PHONES = {"+33 7 98 76 54 32", "07.98.76.54.31", "0798765430", "+33798765429", "07 98 76 54 28",
              "07-98-76-54-27", "+33 (0)7 98 76 54 26"}


def odd_lines() -> list[bytes]:
    """Emails and phones where no identifier field is: labels, keys, free text, ids, Segment
    names and traits, and malformed lines of several kinds."""
    ids = itertools.count()

    def event(**fields: object) -> dict[str, object]:
        return {"event_id": f"odd-{next(ids)}", "event_type": "page_view", "occurred_at": STAMP, "channel": "web",
                "identifiers": {"anonymous_id": "a-odd"}, **fields}

    valid = [
        event(touchpoint="callback 07 98 76 54 28", properties={
            "note": "call Zoe at +33 7 98 76 54 32 or Zoe.Hand@Example.net", "order_id": "odd.place@exemple.fr",
            "nested": {"list": ["07.98.76.54.31", {"deep": "tel: 07-98-76-54-27"}]}, "currency": "0798765430"}),
        event(event_type="newsletter key.name@mail.example.org", channel="+33 (0)7 98 76 54 26",
              properties={"key.name@mail.example.org": True, "+33798765429": "x"}),
        event(event_id="evt-evt.id@example.com-1", identifiers={"user_id": "login.email@example.com", "anonymous_id": "a-o"}),
        event(context={"page": {"url": "https://shop.example/?email=ctx.only@example.com&tel=0798765430"},
                       "traits": {"phone": "07 98 76 54 28"}}),
        {"type": "track", "messageId": "odd-seg-1", "anonymousId": "a-odd-seg", "timestamp": STAMP,
         "event": "Called +33 7 98 76 54 32", "traits": {"email": "segment.user@example.com"},
         "context": {"traits": {"phone": "07 98 76 54 28"}, "note": "Zoe.Hand@Example.net"}},
        {"type": "identify", "messageId": "odd-seg-2", "userId": "u-odd", "timestamp": STAMP,
         "traits": {"email": "segment.user@example.com", "phone": "+33798765429", "bio": "mail odd.place@exemple.fr"}},
    ]
    malformed = [
        b'{"event_id": "bad-1", "note": "broken.line@example.com 0798765430", "event_type": "pa',
        orjson.dumps({**event(), "event_id": None, "properties": {"contact": "broken.line@example.com"}}),
        orjson.dumps({**event(), "event_type": 7, "context": {"phone": "+33 7 98 76 54 32"}}),
        orjson.dumps({**event(), "occurred_at": "1969-07-20T20:17:40Z", "properties": {"who": "old.event@example.com"}}),
        orjson.dumps({**event(), "occurred_at": "jane on 07 98 76 54 28"}),
    ]
    return [orjson.dumps(v) for v in valid] + malformed


class Scanner:
    """Finds the emails (any case) and phones (as written, E.164, digits only) of a dataset."""

    # Lookbehinds and possessive runs keep both linear on 64 KiB runs of letters or digits.
    EMAIL = re.compile(rb"(?<![a-z0-9._%+\-])[a-z0-9._%+\-]++@[a-z0-9\-]++(?:\.[a-z0-9\-]++)++")
    DIGIT_RUN = re.compile(rb"(?<![0-9])\+?[0-9](?:[0-9 .\-()]*[0-9])?")

    def __init__(self, emails: set[str], phones: set[str]) -> None:
        self.emails = {e.strip().lower() for e in emails}
        self.digits: set[bytes] = set()
        for phone in phones:
            e164 = normalise_phone(phone.strip(), "FR")
            assert e164, phone
            self.digits |= {re.sub(r"\D", "", phone).encode(), e164.lstrip("+").encode()}
        self.lengths = sorted({len(d) for d in self.digits})

    def find(self, data: bytes) -> set[str]:
        found = {e for token in self.EMAIL.findall(data.lower()) for e in self.emails if e in token.decode()}
        for run in self.DIGIT_RUN.findall(data):
            digits = re.sub(rb"\D", b"", run)
            found |= {d.decode() for n in self.lengths for i in range(len(digits) - n + 1)
                      if (d := digits[i:i + n]) in self.digits}
        return found

    def written(self, phones: set[str]) -> set[str]:
        """What the input itself holds: every email, and each phone's digits as written."""
        return self.emails | {re.sub(r"\D", "", p) for p in phones}


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Scanner, set[str]]:
    root = tmp_path_factory.mktemp("pii_scan")
    sim = simulate(persons=150, seed=11, malformed_rate=0.02)
    path = root / "input.ndjson"
    path.write_bytes(b"".join(line + b"\n" for line in [*sim.lines, *odd_lines()]))
    env = {**os.environ, "PARCOURS_DATA_DIR": str(root / "data"), "PARCOURS_LOG_LEVEL": "DEBUG"}
    for name in ("PARCOURS_KAFKA_BOOTSTRAP", "PARCOURS_CLICKHOUSE_URL", "PARCOURS_PII_SALT"):
        env.pop(name, None)
    with (root / "stderr.log").open("wb") as log:
        done = subprocess.run([sys.executable, "-m", "tests.integration.pii_scan_run", str(root / "out"), str(path)],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=600, check=False)
    assert done.returncode == 0, (root / "stderr.log").read_text()[-3000:]
    scanner = Scanner(sim.truth.raw_emails | ODD_EMAILS, sim.truth.raw_phones | ODD_PHONES)
    return root, path, scanner, scanner.written(sim.truth.raw_phones | ODD_PHONES)


def leaks(scanner: Scanner, files: list[Path]) -> dict[str, set[str]]:
    found = {str(f): scanner.find(f.read_bytes()) for f in files if f.is_file()}
    return {name: pii for name, pii in found.items() if pii}


def test_the_scanner_finds_every_email_and_phone_in_the_input_and_on_the_dlq(scan) -> None:  # type: ignore[no-untyped-def]
    root, path, scanner, written = scan
    assert scanner.find(path.read_bytes()) == written
    dlq = scanner.find((root / "out" / "topics" / f"{TOPICS['dlq']['name']}.bin").read_bytes())
    assert {"broken.line@example.com", "old.event@example.com", "33798765432"} <= dlq


def test_no_internal_topic_holds_an_email_or_a_phone(scan) -> None:  # type: ignore[no-untyped-def]
    root, _, scanner, _ = scan
    counts = orjson.loads((root / "out" / "summary.json").read_bytes())["topics"]
    internal = {t["name"] for t in TOPICS.values()} - EXEMPT
    assert internal <= set(counts) and all(counts[t] > 0 for t in internal), counts
    files = [root / "out" / "topics" / f"{topic}.bin" for topic in counts if topic not in EXEMPT]
    assert leaks(scanner, files) == {}


def test_no_clickhouse_table_holds_an_email_or_a_phone(scan) -> None:  # type: ignore[no-untyped-def]
    root, _, scanner, _ = scan
    counts = orjson.loads((root / "out" / "summary.json").read_bytes())["tables"]
    assert counts["events"] > 1000 and counts["dead_letters"] >= 5 and counts["identities"] > 0, counts
    assert leaks(scanner, sorted((root / "out" / "clickhouse").glob("*.tsv"))) == {}


def test_no_log_line_and_no_file_of_the_data_dir_holds_an_email_or_a_phone(scan) -> None:  # type: ignore[no-untyped-def]
    root, _, scanner, _ = scan
    log = (root / "stderr.log").read_text()
    assert " DEBUG " in log and "accepted" in log  # the replay ran, and logged at DEBUG
    files = [f for f in sorted((root / "data").rglob("*")) if "bin" not in f.relative_to(root / "data").parts]
    assert leaks(scanner, [root / "stderr.log", *files]) == {}  # data/bin: the broker's executable
