"""Restating persons after a killed replay: person_map follows the new run's graph again.

Two graphs stand for the killed run (a prefix of the input, so a different history) and the
rerun (all of it). The killed run's person_merges rows carry higher versions than the rerun's
own, as they did in the failing crash test: the rerun's knowledge count started again at zero.
"""

from __future__ import annotations

from typing import Any

import pytest

from jobs import resessionize
from jobs.restate import restate_persons, retire_session_merges
from pipeline.facts.rows import person_merge_row
from pipeline.facts.tables import to_arrow
from pipeline.identity.changes import Remap
from pipeline.identity.graph import IdentityGraph
from pipeline.identity.logic import resolve
from pipeline.identity.rules import node_id
from pipeline.ingest.dedupe import RecentIds
from pipeline.taxonomy import identity_kinds
from tests.conftest import empty

pytestmark = pytest.mark.integration

RULES = identity_kinds().rules()


def event(event_id: str, t: int, **ids: str) -> dict[str, object]:
    return {"event_id": event_id, "identifiers": ids, "occurred_at": t}


# The kiosk glues L1 and m9 until L2 shows it is shared; the tablet joins a1 to u1.
EVENTS = [
    event("e1", 1, device_id="kiosk", loyalty_id="L1"),
    event("e2", 2, device_id="kiosk", email="m9"),
    event("e3", 3, email="m9"),
    event("e4", 4, anonymous_id="a1"),
    event("e5", 5, anonymous_id="a1", device_id="tab"),
    event("e6", 6, device_id="tab", user_id="u1"),
    event("e7", 7, device_id="kiosk", loyalty_id="L2"),
]
KILLED = EVENTS[:3]  # the kiosk still glues m9 to L1
RERUN = EVENTS[-1:] + EVENTS[:-1]  # e7 came first from another partition: m9 was never glued


class Run:
    """One batch per event; each remap with the knowledge it was decided with (its version)."""

    def __init__(self, events: list[dict[str, object]]) -> None:
        self.graph, seen = IdentityGraph(RULES), RecentIds()
        self.remaps: list[tuple[Remap, int]] = []
        self.anchors: set[str] = set()
        for one in events:
            out = resolve(self.graph, seen, [one])
            self.remaps += [(r, self.graph.knowledge) for r in out.remaps]
            self.anchors.update(e["anchor_id"] for e in out.events)

    def final_person(self) -> dict[str, str]:
        """node id -> current person, for every identifier of the input."""
        keys = {f"{kind}:{value}" for e in EVENTS for kind, value in e["identifiers"].items()}  # type: ignore[attr-defined]
        return {node_id(k): self.graph.person_of(k) for k in keys}


def write(client: Any, remaps: list[tuple[Remap, int]], offset: int = 0) -> None:
    rows = [person_merge_row(r, 0, offset + version) for r, version in remaps]
    client.insert_arrow("parcours.person_merges", to_arrow("person_merges", rows))


def person_map(client: Any) -> dict[str, str]:
    return dict(client.query("SELECT from_person, person_id FROM parcours.person_map").result_rows)


def test_the_rerun_mapping_replaces_the_killed_runs_whatever_their_versions(clickhouse: Any) -> None:
    empty(clickhouse)
    killed, rerun = Run(KILLED), Run(RERUN)
    write(clickhouse, killed.remaps, offset=10_000)  # more "knowledge" than the rerun will count
    write(clickhouse, rerun.remaps)
    final = rerun.final_person()
    expected = {anchor: final[anchor] for anchor in rerun.anchors}
    stale = person_map(clickhouse)
    assert any(stale.get(a, a) != p for a, p in expected.items()), "the scenario must show a stale mapping"

    assert restate_persons(clickhouse, rerun.graph.restatement()) >= len(expected)

    mapping = person_map(clickhouse)
    assert {a: mapping.get(a, a) for a in expected} == expected
    # a fixpoint: every person id the map points at maps to itself
    assert all(mapping.get(person, person) == person for person in mapping.values())
    empty(clickhouse)


def test_nothing_to_restate_writes_nothing(clickhouse: Any) -> None:
    empty(clickhouse)
    assert restate_persons(clickhouse, []) == 0
    assert person_map(clickhouse) == {}


def test_the_killed_runs_session_merges_are_withdrawn(clickhouse: Any) -> None:
    """The killed run merged session S into T and died before T's row was written (sessions
    are written once settled, merges at once). The rerun kept S, with the same id (ids are
    a hash of person and first event). Left alone, S is hidden as merged and T does not
    exist: an event of S known through a shared device, which takes its session's person,
    has no person, and re-sessionizing everyone then keeps it so."""
    empty(clickhouse)
    killed_at, rerun_at = 1_700_000_000_000, 1_700_000_600_000
    ms = "fromUnixTimestamp64Milli(toInt64({}))".format
    clickhouse.command("INSERT INTO parcours.events (event_id, occurred_at, person_id, anchor_id, session_id, "
                       "event_type, identifiers, ingested_at) VALUES "  # e1: a login on the kiosk, e2: a tap
                       f"('e1', {ms(1000)}, 'p1', 'u1', 'S', 'page_view', map('user_id', 'u', 'device_id', 'k'), "
                       f"{ms(rerun_at + 5)}), "
                       f"('e2', {ms(2000)}, 'p1', 'kiosk', 'S', 'page_view', map('device_id', 'k'), {ms(rerun_at + 5)})")
    clickhouse.command("INSERT INTO parcours.identity_shared VALUES ('device_id', 'k', 'kiosk', 0)")
    clickhouse.command("INSERT INTO parcours.sessions (session_id, person_id, started_at, ended_at, event_count, "
                       f"version) VALUES ('S', 'p1', {ms(1000)}, {ms(2000)}, 2, {(rerun_at + 9) * 1_000_000})")
    clickhouse.command("INSERT INTO parcours.session_merges VALUES "
                       f"('S', 'T', '0000000000001|T', {ms(killed_at + 30_000)}), "  # the killed run's
                       f"('R', 'S', '0000000000001|S', {ms(rerun_at + 7)})")  # the rerun's own
    persons = "SELECT event_id, person_id FROM parcours.v_events ORDER BY event_id"
    assert clickhouse.query(persons).result_rows == [("e1", "p1"), ("e2", "")], "the scenario must show the gap"

    assert retire_session_merges(clickhouse, since_ms=killed_at, until_ms=rerun_at) == 1
    assert clickhouse.query(persons).result_rows == [("e1", "p1"), ("e2", "p1")]
    assert clickhouse.query("SELECT from_session FROM parcours.session_merges").result_rows == [("R",)]
    resessionize.run(clickhouse, gap_s=1800, everyone=True)
    assert clickhouse.query(persons).result_rows == [("e1", "p1"), ("e2", "p1")]
    (sessions,) = clickhouse.query("SELECT count(), sum(event_count) FROM parcours.v_sessions").result_rows
    assert sessions == (1, 2)
    empty(clickhouse)
