"""`parcours replay` end to end on the embedded stack: the real Tansu broker, the Faust
agents and chDB, driven through the CLI like a user would."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from jobs.simulate import simulate, write_ndjson
from tests.conftest import query, run_cli

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, object]:
    """One simulated file replayed once into one data dir, shared by the checks below."""
    root = tmp_path_factory.mktemp("replay")
    sim = simulate(persons=600, seed=21)
    path = root / "journeys.ndjson"
    write_ndjson(sim, path)
    data_dir = root / "data"
    done = run_cli(["replay", str(path)], data_dir)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "accepted" in done.stdout and "rejected" in done.stdout
    return path, data_dir, sim


def test_every_valid_event_is_in_v_events_exactly_once_with_a_person_and_a_session(simulated) -> None:  # type: ignore[no-untyped-def]
    _, data_dir, sim = simulated
    (row,) = query(data_dir, "SELECT count() AS n, uniqExact(event_id) AS ids, countIf(person_id = '') AS no_person, "
                             "countIf(session_id = '') AS no_session FROM parcours.v_events")
    assert row == {"n": sim.truth.valid_event_count, "ids": sim.truth.valid_event_count,
                   "no_person": 0, "no_session": 0}
    ids = {r["event_id"] for r in query(data_dir, "SELECT event_id FROM parcours.v_events")}
    assert ids == set(sim.truth.person_of_event)


def test_every_malformed_line_is_a_dead_letter_with_its_source_and_no_raw_pii(simulated) -> None:  # type: ignore[no-untyped-def]
    _, data_dir, sim = simulated
    rows = query(data_dir, "SELECT source, reason, raw FROM parcours.dead_letters FINAL")
    assert len(rows) == len(sim.truth.malformed_lines)
    assert all(r["source"].startswith("parcours.events.raw/") and r["reason"] for r in rows)
    leaked = [pii for r in rows for pii in sim.truth.raw_emails | sim.truth.raw_phones if pii.strip() in r["raw"]]
    assert leaked == []


def test_purchase_revenue_equals_the_files(simulated) -> None:  # type: ignore[no-untyped-def]
    _, data_dir, sim = simulated
    (row,) = query(data_dir, "SELECT round(sum(revenue), 2) AS revenue FROM parcours.v_events WHERE event_type = 'purchase'")
    assert row["revenue"] == pytest.approx(sim.truth.purchase_revenue, abs=0.01)


def test_sessions_cover_every_event_and_never_mix_persons(simulated) -> None:  # type: ignore[no-untyped-def]
    _, data_dir, _ = simulated
    (row,) = query(data_dir, """
        SELECT count() AS sessions, sum(event_count) AS events,
               (SELECT count() FROM parcours.v_events) AS all_events,
               (SELECT count() FROM (SELECT session_id FROM parcours.v_events GROUP BY session_id
                                      HAVING uniqExact(person_id) > 1)) AS mixed
        FROM parcours.v_sessions""")
    assert row["events"] == row["all_events"] and row["mixed"] == 0 and row["sessions"] > 0


def test_identities_are_hashed_and_resolve_to_current_persons(simulated) -> None:  # type: ignore[no-untyped-def]
    _, data_dir, sim = simulated
    rows = query(data_dir, "SELECT kind, value, person_id FROM parcours.v_identities WHERE kind IN ('email', 'phone')")
    assert rows and all(len(r["value"]) == 32 for r in rows)
    raw = {v.strip().lower() for v in sim.truth.raw_emails}
    assert not raw & {r["value"] for r in rows}
    (orphans,) = query(data_dir, "SELECT count() AS n FROM parcours.v_identities WHERE shared = 0 AND person_id NOT IN "
                                 "(SELECT person_id FROM parcours.v_events)")
    assert orphans["n"] == 0


KPI_SESSIONS = """
SELECT (SELECT sum(sessions) FROM parcours.v_kpi_daily) AS rolled,
       (SELECT sum(converting_sessions) FROM parcours.v_kpi_daily) AS rolled_converting,
       (SELECT count() FROM (SELECT DISTINCT toDate(occurred_at), touchpoint, channel, stage, session_id
                             FROM parcours.v_events)) AS exact,
       (SELECT count() FROM (SELECT DISTINCT toDate(occurred_at), touchpoint, channel, stage, session_id
                             FROM parcours.v_events WHERE event_type = 'purchase')) AS exact_converting
"""


def kpi_sessions_are_exact(data_dir: Path) -> None:
    (row,) = query(data_dir, KPI_SESSIONS)
    assert (row["rolled"], row["rolled_converting"]) == (row["exact"], row["exact_converting"])


def test_the_kpi_rollup_counts_each_current_session_once(simulated) -> None:  # type: ignore[no-untyped-def]
    """Sessions re-cut after the sink rolled them up (merged persons) are restated."""
    kpi_sessions_are_exact(simulated[1])


def test_replaying_the_same_file_again_adds_no_duplicates(simulated) -> None:  # type: ignore[no-untyped-def]
    path, data_dir, sim = simulated
    done = run_cli(["replay", str(path)], data_dir)
    assert done.returncode == 0, done.stderr[-3000:]
    (row,) = query(data_dir, "SELECT count() AS n, uniqExact(event_id) AS ids FROM parcours.v_events")
    assert row == {"n": sim.truth.valid_event_count, "ids": sim.truth.valid_event_count}
    # The re-run's streaming stage named sessions afresh: the rollup still counts each once.
    kpi_sessions_are_exact(data_dir)
    # The embedded broker starts empty and replay places line i at partition i % 4, offset i // 4:
    # the same source, so a re-run's dead letters collapse onto the first run's.
    (dead,) = query(data_dir, "SELECT count() AS n FROM parcours.dead_letters FINAL")
    assert dead["n"] == len(sim.truth.malformed_lines)
    (plain,) = query(data_dir, "SELECT count() AS n FROM parcours.dead_letters")  # what a user counts
    assert plain["n"] == len(sim.truth.malformed_lines)  # was twice as many until a merge


def test_a_run_with_another_pii_salt_than_the_data_refuses_to_start(simulated) -> None:  # type: ignore[no-untyped-def]
    """Its hashes would match none of the stored ones, and devices would look shared."""
    path, data_dir, _ = simulated
    done = run_cli(["replay", str(path)], data_dir, env={"PARCOURS_PII_SALT": "another-salt-than-the-data"})
    assert done.returncode == 2
    assert "hashed with another PII salt" in done.stderr and "hint: set PARCOURS_PII_SALT" in done.stderr


def test_replay_reads_stdin_and_rejects_garbage_without_failing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    event = {"event_id": "s1", "event_type": "page_view", "occurred_at": "2026-11-03T10:00:00Z", "channel": "web",
             "identifiers": {"anonymous_id": "a"}}
    # a producer's lines that start like Parcours' own barriers are input like any other
    lines = [b"not json", b"[1,2]", orjson.dumps(event), b'{"__parcours_control__":"barrier","id":"zzz"}',
             orjson.dumps({"__parcours_control__": "barrier", "id": "s2", **event, "event_id": "s2"})]
    done = run_cli(["replay", "-"], data_dir, stdin=b"\n".join(lines) + b"\n")
    assert done.returncode == 0, done.stderr[-3000:]
    assert query(data_dir, "SELECT count() AS n FROM parcours.dead_letters")[0]["n"] == 3
    assert query(data_dir, "SELECT event_id FROM parcours.v_events ORDER BY event_id") == [
        {"event_id": "s1"}, {"event_id": "s2"}]
    # a second run on a fresh embedded broker: other bad lines at the same topic/partition/offset
    # are other dead letters, not replacements of the first run's
    again = run_cli(["replay", "-"], data_dir, stdin=b"still not json\n[3]\n")
    assert again.returncode == 0, again.stderr[-3000:]
    rows = query(data_dir, "SELECT source, raw FROM parcours.dead_letters FINAL ORDER BY raw")
    assert [r["raw"] for r in rows] == ["[1,2]", "[3]", "not json", "still not json",
                                        '{"__parcours_control__":"barrier","id":"zzz"}']
    assert len({r["source"] for r in rows}) < len(rows)  # a source of the first run met again
    missing = run_cli(["replay", str(tmp_path / "nope.ndjson")], data_dir)
    assert missing.returncode == 2 and "hint" in missing.stderr


def test_a_line_too_big_for_kafka_is_an_oversized_dead_letter_not_a_crash(tmp_path: Path) -> None:
    """A line over librdkafka's own 16 MB message limit (a cluster's broker refuses 1 MB by
    default) stopped the replay with a MSG_SIZE_TOO_LARGE traceback and left it `running`."""
    data_dir, path = tmp_path / "data", tmp_path / "big.ndjson"

    def line(event_id: str, blob: int) -> bytes:
        return orjson.dumps({"event_id": event_id, "event_type": "page_view", "occurred_at": "2026-11-03T10:00:00Z",
                             "channel": "web", "identifiers": {"email": "jane.doe@example.com"},
                             "properties": {"note": "call jane.doe@example.com", "blob": "x" * blob}})

    lines = [line("fine", 0), line("big", 17_000_000), line("bigger-than-64k", 100_000)]
    path.write_bytes(b"\n".join(lines) + b"\n")
    done = run_cli(["replay", str(path)], data_dir)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "rejected   2" in done.stdout and "Traceback" not in done.stderr
    rows = query(data_dir, "SELECT reason, raw FROM parcours.dead_letters FINAL ORDER BY length(reason) DESC")
    assert [r["reason"] for r in rows] == [
        f"oversized: {len(lines[1])} bytes > 65536 (cut to its first 278528 bytes before Kafka)",
        f"oversized: {len(lines[2])} bytes > 65536"]
    assert all(r["raw"].startswith('{"event_id":"big') and len(r["raw"]) == 65_536 for r in rows)
    assert not any("jane.doe" in r["raw"] for r in rows)  # masked like every dead letter
    assert query(data_dir, "SELECT event_id FROM parcours.v_events") == [{"event_id": "fine"}]
    assert query(data_dir, "SELECT status FROM parcours.replay_runs FINAL") == [{"status": "done"}]


def test_all_six_attribution_models_give_every_conversion_a_credit_of_one(simulated) -> None:  # type: ignore[no-untyped-def]
    _, data_dir, _ = simulated
    rows = query(data_dir, "SELECT model, count() AS conversions, max(abs(total - 1)) AS worst FROM "
                           "(SELECT model, conversion_id, sum(credit) AS total FROM parcours.v_attribution "
                           "GROUP BY model, conversion_id) GROUP BY model ORDER BY model")
    (expected,) = query(data_dir, "SELECT count() AS n FROM parcours.v_conversions")
    assert [r["model"] for r in rows] == sorted(["first_touch", "last_touch", "linear", "time_decay",
                                                 "position_based", "markov"])
    assert all(r["conversions"] == expected["n"] > 50 and r["worst"] < 1e-6 for r in rows), rows
