"""Ingest throughput under hostile input: `ingest_one` on clean simulated messages, then on the
same stream with a share of hostile messages (deep nesting, payloads at the 64 KiB limit, NaN,
invalid UTF-8, lone surrogates, wrong types, PII everywhere...).

    python -m jobs.bench_hostile [--messages 50000] [--hostile 0.2] [--seed 7]

Pure CPU in one process, no broker: the ingest stage's own cost per message, which is what a
flood of garbage takes away from the worker. Prints events/s for both streams, then the cost
of each hostile kind.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from datetime import timedelta

import orjson

from jobs.simulate import DEFAULT_START, simulate
from pipeline.ingest.logic import MAX_BYTES, IngestConfig, ingest_one

#: The simulated events lie in the 14 days after DEFAULT_START: "now" is just after them.
NOW_MS = int((DEFAULT_START + timedelta(days=15)).timestamp() * 1000)
EVENT = {"event_id": "e-1", "event_type": "purchase", "occurred_at": "2026-11-03T10:15:22Z",
         "channel": "web", "identifiers": {"user_id": "u-42", "email": " Jane.Doe@Example.com"},
         "properties": {"revenue": 59.9}, "context": {}}


def _with(**fields: object) -> bytes:
    return orjson.dumps({**EVENT, **fields})


def _raw(field: str, text: bytes) -> bytes:
    """EVENT with one field written as raw JSON text (what a serialiser would refuse)."""
    return orjson.dumps(EVENT)[:-1] + b',"' + field.encode() + b'":' + text + b"}"


WRONG_TYPES: list[dict[str, object]] = [{"event_id": 5}, {"occurred_at": 1793704522}, {"identifiers": ["u"]},
                                        {"properties": "x"}]
# One builder per kind of hostile message: (rng) -> bytes.
HOSTILE: dict[str, Callable[[random.Random], bytes]] = {
    "random_bytes": lambda r: r.randbytes(r.randint(1, 512)),
    "deep_array_10k": lambda r: b"[" * 10_000 + b"]" * 10_000,
    "deep_object_in_properties": lambda r: _raw("properties", b'{"a":' * 1100 + b"1" + b"}" * 1100),
    "string_near_64k": lambda r: _with(properties={"blob": "x" * (MAX_BYTES - 400 - r.randint(0, 99))}),
    "digits_near_64k": lambda r: _with(properties={"blob": "1 " * (MAX_BYTES // 2 - 300)}),
    "oversized": lambda r: _with(properties={"blob": "x" * (MAX_BYTES + r.randint(1, 9999))}),
    "array_30k": lambda r: _with(properties={"items": [1] * 30_000}),
    "nan_literal": lambda r: _raw("context", b'{"revenue":NaN}'),
    "huge_numbers": lambda r: _raw("properties", b'{"revenue":1e400}'),
    "int_2_64": lambda r: _raw("properties", b'{"revenue":18446744073709551616}'),
    "invalid_utf8": lambda r: _raw("context", b'{"x":"caf\xe9 \xff"}'),
    "bom": lambda r: b"\xef\xbb\xbf" + _with(),
    "lone_surrogate": lambda r: _raw("context", b'{"x":"\\ud800"}'),
    "wrong_types": lambda r: _with(**r.choice(WRONG_TYPES)),
    "duplicate_keys": lambda r: _raw("event_id", b'"e-2"'),
    "pii_everywhere": lambda r: _with(event_type="mail jane@example.com", channel="06 12 34 56 78",
                                      event_id=f"sms-+3361234{r.randint(1000, 9999)}",
                                      properties={"jane@example.com": "call 06 12 34 56 78"}),
    "segment_odd": lambda r: orjson.dumps({"type": r.choice(["track", "group", "identify"]), "event": {"a": 1},
                                           "traits": [1], "context": {"traits": "x"}, "timestamp": 5}),
    "truncated": lambda r: _with()[: r.randint(1, 100)],
}


def mixed(clean: list[bytes], share: float, rng: random.Random) -> tuple[list[bytes], dict[str, list[bytes]]]:
    """`clean` with every message replaced, with probability `share`, by a hostile one (all
    kinds equally likely); also returns the hostile messages of each kind."""
    kinds = list(HOSTILE)
    out: list[bytes] = []
    by_kind: dict[str, list[bytes]] = {k: [] for k in kinds}
    for line in clean:
        if rng.random() < share:
            kind = rng.choice(kinds)
            line = HOSTILE[kind](rng)
            by_kind[kind].append(line)
        out.append(line)
    return out, by_kind


def rate(messages: list[bytes], cfg: IngestConfig, rounds: int = 3) -> float:
    """Best of `rounds` passes, in messages per second of this process's CPU time (the work is
    pure CPU in one thread; wall time would also measure whatever else runs on the machine)."""
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for raw in messages:
            ingest_one(raw, cfg, NOW_MS)
        best = min(best, time.process_time() - started)
    return len(messages) / best


def _mean_size(messages: list[bytes]) -> float:
    return sum(map(len, messages)) / max(1, len(messages))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--hostile", type=float, default=0.2, help="share of hostile messages")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    cfg = IngestConfig.build(b"bench-salt")
    clean = simulate(persons=max(1, args.messages // 10), seed=args.seed).lines[: args.messages]
    hostile, by_kind = mixed(clean, args.hostile, random.Random(args.seed))
    clean_eps, mixed_eps = rate(clean, cfg), rate(hostile, cfg)
    # MB/s too: the hostile kinds near the 64 KiB limit are a hundred times larger than an event.
    clean_mbs, mixed_mbs = (eps * _mean_size(m) / 1e6 for eps, m in ((clean_eps, clean), (mixed_eps, hostile)))
    print(f"clean          {clean_eps:>10,.0f} events/s {clean_mbs:>7.1f} MB/s  ({len(clean):,} simulated messages)")
    print(f"{args.hostile:.0%} hostile    {mixed_eps:>10,.0f} events/s {mixed_mbs:>7.1f} MB/s  "
          f"({mixed_eps / clean_eps:.0%} of clean events/s)")
    print("per hostile kind (µs per message):")
    for kind, lines in sorted(by_kind.items()):
        if lines:
            print(f"  {kind:<28} {1e6 / rate(lines, cfg, rounds=1):>9,.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
