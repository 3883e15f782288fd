"""Pure builders: domain records -> rows of the fact tables (see facts/tables.py)."""

from __future__ import annotations

from typing import Any

import orjson

from pipeline.facts.tables import Columns
from pipeline.identity.changes import Changes, Remap
from pipeline.identity.rules import Key, node_id
from pipeline.sessions.logic import SessionRemap
from pipeline.sessions.state import Session

Row = dict[str, Any]


#: Event fields copied as they are into the events table (the others are encoded).
_EVENT_COLUMNS = ("event_id", "occurred_at", "person_id", "anchor_id", "session_id", "event_type", "channel",
                  "touchpoint", "stage", "revenue", "currency", "order_id", "csat", "nps", "identifiers",
                  "ingested_at")


def event_columns(events: list[dict[str, Any]]) -> Columns:
    """The events table column by column, straight from the events: no dict per row (the
    sessions stage's hottest output)."""
    columns = {name: [event[name] for event in events] for name in _EVENT_COLUMNS}
    dumps = orjson.dumps
    columns["properties"] = [dumps(event["properties"]).decode() for event in events]
    columns["context"] = [dumps(event["context"]).decode() for event in events]
    return columns


def session_row(session: Session, version: int) -> Row:
    return {
        "session_id": session.session_id, "person_id": session.person_id,
        "started_at": session.start, "ended_at": session.end, "event_count": session.event_count,
        "channels": session.channels, "entry_touchpoint": session.entry_touchpoint,
        "exit_touchpoint": session.exit_touchpoint, "converted": int(session.converted),
        "revenue": round(session.revenue, 6), "version": version,
    }


def identity_row(key: Key, person_id: str, seen_ms: int) -> Row:
    kind, value = key.split(":", 1)
    return {"kind": kind, "value": value, "person_id": person_id, "anchor_id": node_id(key),
            "first_seen": seen_ms}


def person_merge_row(remap: Remap, at_ms: int, version: int) -> Row:
    return {
        "from_person": remap.from_person, "to_person": remap.to_person, "reason": remap.reason,
        "event_id": remap.event_id, "merged_at": at_ms, "version": version,
    }


def graph_rows(changes: Changes, at_ms: int) -> dict[str, list[Row]]:
    """Links, refusals (made, or withdrawn) and shared marks of one graph update, per table."""
    return {
        "identity_links": [{"event_id": k[1], "occurred_at": k[0], "identifiers": sorted(g), "recorded_at": at_ms}
                           for g, k in changes.new_edges],
        "identity_refusals": [{"event_id": r.event_id, "kept": r.kept, "refused": r.refused, "kind": r.kind,
                               "recorded_at": at_ms, "withdrawn": withdrawn}
                              for withdrawn, refusals in ((0, changes.refusals), (1, changes.withdrawn))
                              for r in refusals],
        "identity_shared": [dict(zip(("kind", "value"), key.split(":", 1), strict=True),
                                 anchor_id=node_id(key), marked_at=at_ms) for key in changes.shared],
    }


def session_merge_row(remap: SessionRemap, at_ms: int) -> Row:
    return {
        "from_session": remap.from_session, "to_session": remap.to_session,
        "to_order": remap.to_order, "merged_at": at_ms,
    }


def dead_letter_row(received_ms: int, source: str, reason: str, raw_masked: str, replay_id: str) -> Row:
    return {"received_at": received_ms, "source": source, "reason": reason, "raw": raw_masked,
            "replay_id": replay_id}
