"""`make bench`: Parcours end to end, Faust-as-usual and the Python ceiling, side by side.

strategy: one embedded broker, one set of simulated events (~10.7 per person), loaded on the
raw topic *before* anything consumes it; then, each in its own process so that memory and
start-up do not leak between them:
  (a) Parcours: ingest -> identity -> sessions -> facts in ClickHouse (chDB), timed from its
      first ingested event to the end-of-input barrier written by the sink, with 1 and then 2
      worker processes;
  (b) baseline: a per-event Faust agent with Tables doing minimal stitching and sessions;
  (c) ceiling: aiokafka getmany + orjson.loads over the same topic.
Then the latency from an event produced to its profile update at a steady rate, and the
memory of one worker's state for a million persons of 3 identifiers (jobs/bench_state.py).
Prints a table and, last, one JSON line. Parcours runs on PARCOURS_EVENT_LOOP (uvloop by
default); (b) and (c) on asyncio's own loop, as Faust and aiokafka run unless told otherwise
(measured both ways: the baseline is the same on either, the ceiling faster on asyncio's).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from jobs.latency import measure as measure_latency
from jobs.simulate import simulate
from pipeline import logs
from pipeline.barrier import send_end_of_input
from pipeline.embedded.broker import EmbeddedBroker
from pipeline.kafka import ensure_topics, flush, produce, producer
from pipeline.topics import topics


def load_raw(bootstrap: str, lines: list[bytes], barrier: str) -> int:
    raw = topics().raw
    prod = producer(bootstrap)
    for i, line in enumerate(lines):
        produce(prod, raw.name, line, partition=i % raw.partitions)
        if i % 20_000 == 0:
            prod.poll(0)
    send_end_of_input(prod, raw, barrier)
    flush(prod, 120)
    return len(lines) + raw.partitions


def run_json(args: list[str], timeout: float = 900) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=timeout, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{args[0]} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return orjson.loads(lines[-1])


def pipeline_run(bootstrap: str, tmp: Path, barrier: str, workers: int,
                 load: Callable[[], int] | None = None) -> dict[str, Any]:
    """With one worker the raw topic is loaded beforehand; with several, `load` runs once all
    of them have joined (otherwise the first one would process alone until the others join)."""
    peers = [subprocess.Popen([sys.executable, "-m", "jobs.bench_pipeline", "--bootstrap", bootstrap,
                               "--data-dir", str(tmp / f"peer{i}"), "--barrier", barrier, "--no-sink"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
             for i in range(workers - 1)]
    sink_dir = tmp / "sink"
    sink = subprocess.Popen([sys.executable, "-m", "jobs.bench_pipeline", "--bootstrap", bootstrap,
                             "--data-dir", str(sink_dir), "--barrier", barrier],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if load is not None:
            dirs = [sink_dir, *(tmp / f"peer{i}" for i in range(workers - 1))]
            deadline = time.monotonic() + 120
            while not all((d / "ready").exists() for d in dirs) and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(2.0)  # let the last rebalance settle
            load()
        out, err = sink.communicate(timeout=900)
        lines = [line for line in out.splitlines() if line.startswith("{")]
        if sink.returncode != 0 or not lines:
            raise RuntimeError(f"pipeline worker failed ({sink.returncode}):\n{err[-2000:]}")
        figures: dict[str, Any] = orjson.loads(lines[-1])
    finally:
        rss = []
        for peer in peers:
            peer.terminate()
            out, _ = peer.communicate(timeout=60)
            rss += [orjson.loads(line)["peak_rss_mb"] for line in out.splitlines() if line.startswith("{")]
    figures["peer_rss_mb"] = rss
    return figures


def fresh_broker(tmp: Path, name: str, lines: list[bytes]) -> tuple[EmbeddedBroker, str, int]:
    """A new broker with the topics; `lines` (if any) loaded on the raw topic with a barrier."""
    broker = EmbeddedBroker(tmp / name)
    bootstrap = broker.start()
    ensure_topics(bootstrap, topics().all())
    barrier = uuid.uuid4().hex[:12]
    count = load_raw(bootstrap, lines, barrier) if lines else 0
    return broker, barrier, count


def bench(persons: int, seed: int, latency_rate: int, state_persons: int, tmp: Path) -> dict[str, Any]:
    lines = simulate(persons=persons, seed=seed).lines
    print(f"{len(lines):,} simulated events", file=sys.stderr)
    results: dict[str, Any] = {"persons": persons}
    for workers in (1, 2):
        broker, barrier, _ = fresh_broker(tmp, f"broker-p{workers}", lines if workers == 1 else [])
        loader = None if workers == 1 else (lambda b=broker.bootstrap, x=barrier: load_raw(b, lines, x))
        try:
            print(f"(a) Parcours, {workers} worker(s) ...", file=sys.stderr)
            run = pipeline_run(broker.bootstrap, tmp / f"p{workers}", barrier, workers, loader)
            run["events"] = len(lines)  # all workers' events: the sink worker counts only its own
            results[f"pipeline_{workers}"] = run
        finally:
            broker.stop()
    broker, _, count = fresh_broker(tmp, "broker-b", lines)
    try:
        for name in ("ceiling", "baseline"):
            print(f"({'c' if name == 'ceiling' else 'b'}) {name} ...", file=sys.stderr)
            results[name] = run_json(["jobs.bench_runs", name, "--bootstrap", broker.bootstrap,
                                      "--topic", topics().raw.name, "--events", str(count)])
    finally:
        broker.stop()
    print(f"latency at {latency_rate:,} events/s ...", file=sys.stderr)
    results["latency"] = measure_latency(latency_rate, 10.0, tmp / "latency")
    print(f"state of {state_persons:,} persons ...", file=sys.stderr)
    results["state"] = run_json(["jobs.bench_state", "--persons", str(state_persons)], timeout=3600)
    return results


def summary(r: dict[str, Any]) -> dict[str, Any]:
    p1 = r["pipeline_1"]
    eps = {k: r[k]["events"] / max(r[k]["seconds"], 1e-9) for k in ("pipeline_1", "pipeline_2")}
    baseline, ceiling = r["baseline"]["eps"], r["ceiling"]["eps"]
    return {
        "events": p1["events"],
        "pipeline_eps": round(eps["pipeline_1"]),
        "pipeline_eps_2_workers": round(eps["pipeline_2"]),
        "baseline_eps": round(baseline),
        "ceiling_eps": round(ceiling),
        "ratio_vs_faust_per_event": round(eps["pipeline_1"] / max(baseline, 1e-9), 2),
        "ratio_vs_ceiling": round(eps["pipeline_1"] / max(ceiling, 1e-9), 3),
        "p50_profile_latency_ms": round(r["latency"]["p50_ms"], 1),
        "p99_profile_latency_ms": round(r["latency"]["p99_ms"], 1),
        "peak_rss_mb": max([p1["peak_rss_mb"], *r["pipeline_2"]["peer_rss_mb"], r["pipeline_2"]["peak_rss_mb"]]),
        "peak_rss_mb_without_sink": max(r["pipeline_2"]["peer_rss_mb"], default=None),
        "state_persons": r["state"]["persons"],
        "state_identifiers": r["state"]["identifiers"],
        "state_rss_mb": r["state"]["state_rss_mb"],
        "state_peak_rss_mb": r["state"]["peak_rss_mb"],
        "latency_rate": r["latency"]["rate"],
        "latency_received": r["latency"]["received"],
        "latency_events": r["latency"]["events"],
        "event_loop": p1.get("event_loop"),
        "event_loop_cpu_share": p1.get("event_loop_cpu_share"),
        "stage_seconds": p1["stage_seconds"],
    }


def table(r: dict[str, Any], s: dict[str, Any]) -> str:
    rows = [("Parcours, 1 worker", s["pipeline_eps"], r["pipeline_1"]["peak_rss_mb"]),
            ("Parcours, 2 workers", s["pipeline_eps_2_workers"], r["pipeline_2"]["peak_rss_mb"]),
            ("Faust per event + Tables", s["baseline_eps"], r["baseline"]["peak_rss_mb"]),
            ("aiokafka getmany + orjson", s["ceiling_eps"], r["ceiling"]["peak_rss_mb"])]
    out = [f"{'run':<28}{'events/s':>12}{'peak RSS MB':>14}"]
    out += [f"{name:<28}{eps:>12,}{rss:>14,.0f}" for name, eps, rss in rows]
    if s["peak_rss_mb_without_sink"] is not None:  # the engine is in the sink's process only
        out.append(f"2 workers: the one with the sink and the embedded ClickHouse engine "
                   f"{r['pipeline_2']['peak_rss_mb']:,.0f} MB, the other {s['peak_rss_mb_without_sink']:,.0f} MB")
    out.append(f"ratio Parcours / Faust-as-usual: {s['ratio_vs_faust_per_event']}x; "
               f"Parcours / ceiling: {s['ratio_vs_ceiling']:.1%}")
    out.append("time inside each stage (1 worker, s): "
               + ", ".join(f"{k} {v}" for k, v in sorted(s["stage_seconds"].items())))
    out.append(f"the worker's event loop ({s['event_loop']}) was busy {s['event_loop_cpu_share']:.0%} "
               "of the run (the rest: "
               "waiting for acknowledgements, *_wait_acks above)")
    out.append(f"event -> profile update at {s['latency_rate']:,} events/s (a new person each): "
               f"p50 {s['p50_profile_latency_ms']} ms, p99 {s['p99_profile_latency_ms']} ms, "
               f"{s['latency_received']:,} of {s['latency_events']:,} updates received")
    out.append(f"state of one worker for {s['state_persons']:,} persons, {s['state_identifiers']:,} identifiers "
               f"(graph, profiles, caches; no Kafka, no engine): +{s['state_rss_mb']:,.0f} MB, "
               f"process peak {s['state_peak_rss_mb']:,.0f} MB")
    # A worker holding that state needs both: the pipeline's own RSS and the state's.
    rss_ok = s["peak_rss_mb"] <= 1536 and s["state_peak_rss_mb"] <= 1536 and s["state_persons"] >= 1_000_000 \
        and s["state_identifiers"] >= 3_000_000
    targets = [("events/s >= 50 000 over 1 M events", s["pipeline_eps"] >= 50_000 and s["events"] >= 1_000_000),
               ("ratio >= 10x", s["ratio_vs_faust_per_event"] >= 10),
               ("p99 <= 250 ms", s["p99_profile_latency_ms"] <= 250),
               (f"peak RSS <= 1 536 MB with 1 M persons, 3 M identifiers (pipeline {s['peak_rss_mb']:,.0f} MB, "
                f"state of {s['state_persons']:,} persons {s['state_peak_rss_mb']:,.0f} MB)", rss_ok)]
    out.append("issue 5 targets: " + "; ".join(f"{name} {'met' if ok else 'NOT met'}" for name, ok in targets))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.bench", description=__doc__)
    parser.add_argument("--persons", type=int, default=10_000, help="~10.7 events per person")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--latency-rate", type=int, default=5000)
    parser.add_argument("--state-persons", type=int, default=1_000_000,
                        help="persons (3 identifiers each) in the state-memory run")
    args = parser.parse_args(argv)
    logs.configure("WARNING")
    with tempfile.TemporaryDirectory(prefix="parcours-bench-") as tmp:
        results = bench(args.persons, args.seed, args.latency_rate, args.state_persons, Path(tmp))
    figures = summary(results)
    print(table(results, figures), file=sys.stderr)
    print(orjson.dumps(figures).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
