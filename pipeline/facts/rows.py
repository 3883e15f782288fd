"""Pure builders: domain records -> rows of the fact tables (see facts/tables.py)."""

from __future__ import annotations

from typing import Any

import orjson

from pipeline.identity.graph import NewIdentifier, Remap
from pipeline.sessions.logic import SessionRemap
from pipeline.sessions.state import Session

Row = dict[str, Any]


def event_row(event: dict[str, Any]) -> Row:
    return {
        "event_id": event["event_id"], "occurred_at": event["occurred_at"],
        "person_id": event["person_id"], "session_id": event["session_id"],
        "event_type": event["event_type"], "channel": event["channel"],
        "touchpoint": event["touchpoint"], "stage": event["stage"], "revenue": event["revenue"],
        "currency": event["currency"], "order_id": event["order_id"], "csat": event["csat"],
        "nps": event["nps"], "identifiers": event["identifiers"],
        "properties": orjson.dumps(event["properties"]).decode(),
        "context": orjson.dumps(event["context"]).decode(),
        "ingested_at": event["ingested_at"],
    }


def session_row(session: Session, version: int) -> Row:
    return {
        "session_id": session.session_id, "person_id": session.person_id,
        "started_at": session.start, "ended_at": session.end, "event_count": session.event_count,
        "channels": session.channels, "entry_touchpoint": session.entry_touchpoint,
        "exit_touchpoint": session.exit_touchpoint, "converted": int(session.converted),
        "revenue": round(session.revenue, 6), "version": version,
    }


def identity_row(new: NewIdentifier, seen_ms: int) -> Row:
    return {"kind": new.kind, "value": new.value, "person_id": new.person_id, "first_seen": seen_ms}


def person_merge_row(remap: Remap, at_ms: int) -> Row:
    return {
        "from_person": remap.from_person, "to_person": remap.to_person, "to_order": remap.to_order,
        "reason": remap.reason, "event_id": remap.event_id, "merged_at": at_ms,
    }


def session_merge_row(remap: SessionRemap, at_ms: int) -> Row:
    return {
        "from_session": remap.from_session, "to_session": remap.to_session,
        "to_order": remap.to_order, "merged_at": at_ms,
    }


def dead_letter_row(received_ms: int, source: str, reason: str, raw_masked: str, replay_id: str) -> Row:
    return {"received_at": received_ms, "source": source, "reason": reason, "raw": raw_masked,
            "replay_id": replay_id}
