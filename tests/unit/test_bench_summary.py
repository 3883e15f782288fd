"""`make bench`'s summary: the JSON line carries the keys the issue names, and the table says
which targets are met, from the figures themselves."""

from __future__ import annotations

from typing import Any

from jobs.bench import summary, table


def results(pipeline_eps: float, p99: float) -> dict[str, Any]:
    run = {"events": 1_100_000, "seconds": 1_100_000 / pipeline_eps, "peak_rss_mb": 900.0,
           "event_loop": "uvloop", "event_loop_cpu_share": 0.8, "stage_seconds": {"ingest": 1.0}}
    return {"persons": 1_000_000, "pipeline_1": run, "pipeline_2": {**run, "seconds": run["seconds"] / 1.5, "peer_rss_mb": [800.0]},
            "baseline": {"eps": 1_000.0, "peak_rss_mb": 300.0}, "ceiling": {"eps": 200_000.0, "peak_rss_mb": 100.0},
            "latency": {"rate": 5000, "events": 50_000, "received": 50_000, "p50_ms": 100.0, "p99_ms": p99},
            "state": {"persons": 1_000_000, "identifiers": 3_000_000, "state_rss_mb": 1_000.0, "peak_rss_mb": 1_100.0}}


def test_the_json_line_has_the_issue_keys_and_the_ratios_come_from_the_same_run() -> None:
    s = summary(results(5_000, 900.0))
    for key in ("pipeline_eps", "baseline_eps", "ceiling_eps", "ratio_vs_faust_per_event",
                "p99_profile_latency_ms", "peak_rss_mb"):
        assert key in s
    assert (s["pipeline_eps"], s["ratio_vs_faust_per_event"], s["peak_rss_mb"]) == (5_000, 5.0, 900.0)
    assert s["pipeline_eps_2_workers"] == 7_500
    assert s["peak_rss_mb_without_sink"] == 800.0  # the worker without the embedded engine
    assert s["event_loop"] == "uvloop" and "event loop (uvloop)" in table(results(5_000, 900.0), s)


def test_the_table_says_which_targets_are_met() -> None:
    slow = results(5_000, 900.0)
    assert "events/s >= 50 000 over 1 M events NOT met" in table(slow, summary(slow))
    assert "p99 <= 250 ms NOT met" in table(slow, summary(slow))
    fast = results(60_000, 200.0)
    text = table(fast, summary(fast))
    assert "NOT met" not in text and "ratio >= 10x met" in text
    assert "the other 800 MB" in text


def test_a_small_run_cannot_meet_the_targets_that_need_a_million() -> None:
    small = {**results(60_000, 200.0), "persons": 10_000}
    small["pipeline_1"] = {**small["pipeline_1"], "events": 115_000, "seconds": 115_000 / 60_000}
    small["state"] = {**small["state"], "persons": 100_000, "identifiers": 300_000}
    text = table(small, summary(small))
    assert "over 1 M events NOT met" in text and "state of 100,000 persons 1,100 MB) NOT met" in text


def test_the_memory_target_needs_both_the_pipeline_and_the_state_under_the_limit() -> None:
    fast = results(60_000, 200.0)
    assert "3 M identifiers (pipeline 900 MB, state of 1,000,000 persons 1,100 MB) met" in table(fast, summary(fast))
    big_state = {**fast, "state": {**fast["state"], "peak_rss_mb": 3_000.0}}
    assert "persons 3,000 MB) NOT met" in table(big_state, summary(big_state))
    s = summary(big_state)
    assert (s["state_persons"], s["state_identifiers"], s["state_peak_rss_mb"]) == (1_000_000, 3_000_000, 3_000.0)
