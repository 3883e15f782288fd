"""`make bench`: replay ~100 000 simulated events through the embedded stack, print events/s.

The broker and ClickHouse engine are the embedded ones, started fresh in a temporary data
dir; the clock runs from the first produced event to the barrier in ClickHouse (so it counts
ingest, stitching, sessions and the sink, not start-up). Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import orjson

from jobs.replay import replay
from jobs.simulate import simulate, write_ndjson
from pipeline import logs
from pipeline.embedded.stack import Stack
from pipeline.settings import Settings


async def run(persons: int, seed: int, data_dir: Path) -> dict[str, object]:
    sim = simulate(persons=persons, seed=seed)
    path = data_dir / "bench.ndjson"
    write_ndjson(sim, path)
    settings = Settings.from_env({"PARCOURS_DATA_DIR": str(data_dir)})
    started = time.monotonic()
    async with Stack(settings) as stack:
        startup = time.monotonic() - started
        result = await replay(stack, [str(path)], progress=True)
        stats = stack.pipeline.rt.stats if stack.pipeline else None
    return {
        "events": result.lines,
        "pipeline_eps": round(result.events_per_second),
        "seconds": round(result.seconds, 2),
        "startup_seconds": round(startup, 2),
        "rows_inserted": dict(stats.inserted) if stats else {},
        "insert_seconds": round(stats.insert_seconds, 2) if stats else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.bench", description=__doc__)
    parser.add_argument("--persons", type=int, default=10_000, help="~10.7 events per person")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    logs.configure("WARNING")
    with tempfile.TemporaryDirectory(prefix="parcours-bench-") as tmp:
        figures = asyncio.run(run(args.persons, args.seed, Path(tmp)))
    print(f"\nreplay of {figures['events']:,} events: {figures['pipeline_eps']:,} events/s "
          f"({figures['seconds']} s end to end, start-up {figures['startup_seconds']} s excluded)",
          file=sys.stderr)
    print(orjson.dumps(figures).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
