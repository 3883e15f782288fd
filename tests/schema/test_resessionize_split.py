"""`resessionize` re-cuts a person split off after its sessions were merged into another's:
the merged session's row still names the other person, while the events (through their
anchor) name the split-off one, so v_sessions and v_events disagreed on whose session it is
(an audit found one on a shared store terminal)."""

from __future__ import annotations

from typing import Any

from jobs import resessionize
from tests.conftest import empty

MISMATCHES = """
SELECT count() FROM parcours.v_sessions AS s
JOIN (SELECT session_id, any(person_id) AS p FROM parcours.v_events GROUP BY session_id) AS e
    ON e.session_id = s.session_id
WHERE s.person_id != e.p
"""


def test_a_person_split_off_after_a_merge_gets_sessions_of_its_own(clickhouse: Any) -> None:
    empty(clickhouse)
    clickhouse.command(
        "INSERT INTO parcours.events (event_id, occurred_at, person_id, anchor_id, session_id, event_type, "
        "channel, touchpoint, stage) VALUES "
        "('x1', '2026-11-03 10:00:00', 'pc', 'pc', 'sa', 'store_visit', 'store', 'desk', 'purchase'), "
        "('x2', '2026-11-03 10:03:00', 'pc', 'pc', 'sa', 'purchase', 'store', 'till', 'purchase')")
    # pc was merged into pd: its session sa went into pd's sb; then pc was split off again (a
    # shared terminal found), and its session came back under its own id, but session_merges stays.
    clickhouse.command(
        "INSERT INTO parcours.sessions (session_id, person_id, started_at, ended_at, event_count, channels, "
        "entry_touchpoint, exit_touchpoint, converted, revenue, version) VALUES "
        "('sb', 'pd', '2026-11-03 10:00:00', '2026-11-03 10:03:00', 2, ['store'], 'desk', 'till', 1, 0, 1), "
        "('sa', 'pc', '2026-11-03 10:00:00', '2026-11-03 10:03:00', 2, ['store'], 'desk', 'till', 1, 0, 2)")
    clickhouse.command("INSERT INTO parcours.session_merges (from_session, to_session, to_order) "
                       "VALUES ('sa', 'sb', '1')")
    clickhouse.command("INSERT INTO parcours.person_merges (from_person, to_person, version) "
                       "VALUES ('pc', 'pd', 1), ('pc', 'pc', 2)")
    assert clickhouse.query(MISMATCHES).result_rows[0][0] == 1

    result = resessionize.run(clickhouse, 1800.0)
    assert result.persons >= 1
    assert clickhouse.query(MISMATCHES).result_rows[0][0] == 0
    rows = clickhouse.query("SELECT DISTINCT v.person_id, s.person_id FROM parcours.v_events AS v "
                            "JOIN parcours.v_sessions AS s ON s.session_id = v.session_id").result_rows
    assert rows == [("pc", "pc")]
