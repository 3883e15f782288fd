"""Helpers for the ingest tests (test_ingest.py, test_ingest_pii.py): a literal raw message
in, its Event or DeadLetter out, and expected values computed independently of the code under
test (calendar.timegm for timestamps, hashlib.blake2b for identifier hashes, the schemas/*.toml
files for junk values and stages).
"""

from __future__ import annotations

import calendar
import hashlib
import tomllib
from pathlib import Path
from typing import Any

import orjson

from pipeline.ingest.logic import IngestConfig, ingest_one
from pipeline.ingest.outcomes import DeadLetter

ROOT = Path(__file__).resolve().parents[2]
IDENTITY = tomllib.loads((ROOT / "schemas" / "identity.toml").read_text())
TAXONOMY = tomllib.loads((ROOT / "schemas" / "taxonomy.toml").read_text())
JUNK = list(IDENTITY["junk_values"])
KINDS = [k["name"] for k in IDENTITY["kinds"]]

SALT = b"test-salt"
CFG = IngestConfig.build(SALT)

# 2026-11-03T10:15:22.120Z as epoch milliseconds, computed without datetime.fromisoformat.
T0_MS = calendar.timegm((2026, 11, 3, 10, 15, 22, 0, 0, 0)) * 1000 + 120
assert T0_MS == 1_793_700_922_120
HOUR_MS = 3600 * 1000
NOW_MS = T0_MS + HOUR_MS  # the event happened an hour before "now"

EMAIL_NORMAL = "jane.doe@example.com"
PHONE_E164 = "+33612345678"


def h(kind: str, value: str, salt: bytes = SALT) -> str:
    return hashlib.blake2b(f"{kind}:{value}".encode(), key=salt, digest_size=16).hexdigest()


def base(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": "evt-1",
        "event_type": "purchase",
        "occurred_at": "2026-11-03T10:15:22.120Z",
        "channel": "web",
        "identifiers": {"user_id": "u-42"},
    }
    event.update(overrides)
    return event


def without(field: str) -> dict[str, Any]:
    event = base()
    del event[field]
    return event


def run(message: object, cfg: IngestConfig = CFG,
        now_ms: int = NOW_MS) -> dict[str, Any] | DeadLetter:
    raw = message if isinstance(message, bytes) else orjson.dumps(message)
    return ingest_one(raw, cfg, now_ms)


def accepted(message: object, **kw: Any) -> dict[str, Any]:
    out = run(message, **kw)
    assert isinstance(out, dict), out
    return out


def code_of(message: object, **kw: Any) -> str:
    out = run(message, **kw)
    assert isinstance(out, DeadLetter), out
    assert isinstance(out.reason, str) and out.reason
    return out.code
