"""The batch re-sessionization cuts the same sessions as the streaming logic would."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.resessionize import session_rows, sessionize
from pipeline.sessions import logic
from pipeline.sessions.state import SessionBook

GAP = 30


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["p", "q"]), st.integers(0, 300)), min_size=1, max_size=40))
def test_batch_and_streaming_sessions_agree(timeline: list[tuple[str, int]]) -> None:
    rows = [{"event_id": f"e{i:03d}", "person_id": p, "occurred_at": t, "event_type": "page_view", "channel": "web",
             "touchpoint": "x", "revenue": 0.0, "session_id": "old"} for i, (p, t) in enumerate(timeline)]
    batch = sessionize(pl.DataFrame(rows), GAP, frozenset())
    batch_groups = {frozenset(g["event_id"]) for g in batch.group_by("new_session").agg("event_id").to_dicts()}
    book = SessionBook(GAP, lateness_ms=10_000)
    out = logic.apply(book, [dict(r) for r in rows], frozenset())
    remap = {r.from_session: r.to_session for r in out.remaps}
    streaming: dict[str, set[str]] = {}
    for e in out.events:
        sid = str(e["session_id"])
        while sid in remap:
            sid = remap[sid]
        streaming.setdefault(sid, set()).add(str(e["event_id"]))
    assert batch_groups == {frozenset(g) for g in streaming.values()}


def test_session_rows_carry_entry_exit_channels_and_revenue() -> None:
    rows = pl.DataFrame([
        {"event_id": "b", "person_id": "p", "occurred_at": 10, "event_type": "purchase", "channel": "store",
         "touchpoint": "till", "revenue": 20.0, "session_id": "s"},
        {"event_id": "a", "person_id": "p", "occurred_at": 0, "event_type": "page_view", "channel": "web",
         "touchpoint": "home", "revenue": 0.0, "session_id": "s"},
    ])
    (row,) = session_rows(sessionize(rows, GAP, frozenset({"purchase"})), frozenset({"purchase"}), 7).to_dicts()
    assert (row["entry_touchpoint"], row["exit_touchpoint"], row["channels"]) == ("home", "till", ["web", "store"])
    assert (row["event_count"], row["converted"], row["revenue"], row["version"]) == (2, 1, 20.0, 7)
