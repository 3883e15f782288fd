"""The state-memory run of `make bench` builds what it says: every generated event passes
ingest, each person ends as one person of 3 identifiers with a profile, and sessions close."""

from __future__ import annotations

from jobs.bench_state import build


def test_each_person_is_one_person_of_three_identifiers_with_a_profile() -> None:
    figures = build(1_200)
    assert figures["identifiers"] == 3 * 1_200
    assert figures["graph_persons"] == 1_200  # the logged-in visit joined the cookie to its person
    assert figures["profiles"] == 1_200
    assert figures["open_sessions"] < 1_200 / 10  # sessions closed as event time went on
    # (no assertion on the RSS here: inside the test process other tests' memory comes and goes)
