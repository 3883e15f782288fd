"""One Parcours worker under benchmark (run in its own process by `jobs.bench`).

`python -m jobs.bench_pipeline --bootstrap HOST:PORT --data-dir DIR --barrier ID [--no-sink]`:
the raw topic is already loaded (events, then an end-of-input barrier on every partition).
The worker with the sink times from its first ingested event to the barrier in ClickHouse and
prints one JSON line; a worker without the sink just works until it is terminated.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import orjson

from jobs.bench_runs import peak_rss_mb
from pipeline import event_loop, logs
from pipeline.embedded.stack import Stack
from pipeline.settings import Settings, event_loop_of


async def run(bootstrap: str, data_dir: Path, barrier: str, sink: bool) -> dict[str, object]:
    settings = Settings.from_env({"PARCOURS_DATA_DIR": str(data_dir), "PARCOURS_KAFKA_BOOTSTRAP": bootstrap,
                                  "PARCOURS_SINK": "1" if sink else "0", "PARCOURS_PII_SALT": "bench"})
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with Stack(settings) as stack:
        assert stack.pipeline is not None
        pipeline, stats = stack.pipeline, stack.pipeline.rt.stats
        first, first_cpu = None, 0.0
        while not pipeline.app.assignor.assigned_actives() and not stop.is_set():
            await asyncio.sleep(0.05)
        (data_dir / "ready").write_text("joined")  # the orchestrator may load the raw topic now
        while not stop.is_set():
            pipeline.check()
            if first is None and (stats.ingested or stats.resolved or stats.sessionized):
                first, first_cpu = time.perf_counter(), time.thread_time()
            if pipeline.sink and sum(1 for b, _ in pipeline.sink.reached if b == barrier) >= \
                    pipeline.rt.topics.facts.partitions:
                break
            await asyncio.sleep(0.01)
        seconds = time.perf_counter() - (first or time.perf_counter())
        loop_cpu = time.thread_time() - (first_cpu if first is not None else time.thread_time())
        figures = {"name": "pipeline", "events": stats.sessionized + sum(stats.rejected.values()) + stats.duplicates,
                   "seconds": round(seconds, 3),
                   "event_loop_cpu_share": round(loop_cpu / max(seconds, 1e-9), 3),
                   "stage_seconds": {k: round(v, 2) for k, v in stats.stage_seconds.items()},
                   "stage_batches": dict(stats.stage_batches), "changelog_records": stats.changelog_records,
                   "insert_seconds": round(stats.insert_seconds, 2), "rows_inserted": dict(stats.inserted),
                   "event_loop": event_loop.name(asyncio.get_running_loop())}
    figures["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.bench_pipeline", description=__doc__)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--barrier", required=True)
    parser.add_argument("--no-sink", action="store_true")
    args = parser.parse_args(argv)
    logs.configure("WARNING")
    figures = event_loop.run(run(args.bootstrap, args.data_dir, args.barrier, not args.no_sink),
                             event_loop_of(os.environ))
    if not args.no_sink:
        print(orjson.dumps(figures).decode())
    else:
        print(orjson.dumps({"name": "pipeline-peer", "peak_rss_mb": figures["peak_rss_mb"]}).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
