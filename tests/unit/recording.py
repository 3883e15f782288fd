"""Stand-ins for the sessions stage's unit tests: a producer that keeps what was produced, a
runtime around it, and the events the stage receives (ingested, resolved to a person)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.runtime import Runtime
from pipeline.settings import Settings


class RecordingProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def produce(self, topic: str, **kwargs: Any) -> None:
        self.sent.append((topic, kwargs))

    def poll(self, _: float) -> None:
        pass

    def flush(self, _: float) -> int:
        return 0


def recording_runtime(tmp_path: Path) -> Runtime:
    settings = Settings.from_env({"PARCOURS_DATA_DIR": str(tmp_path), "PARCOURS_PII_SALT": "tests"})
    return Runtime(settings, "127.0.0.1:1", RecordingProducer())  # type: ignore[arg-type]


def person_event(event_id: str, person: str, occurred_at: int, **fields: Any) -> dict[str, Any]:
    """An event as `parcours.events.by_person` carries it: a page view unless `fields` say otherwise."""
    return {"event_id": event_id, "occurred_at": occurred_at, "person_id": person, "anchor_id": person,
            "identifiers": {"user_id": "u1"}, "event_type": "page_view", "channel": "web", "touchpoint": "home",
            "stage": "before", "revenue": 0.0, "currency": "", "order_id": "", "csat": None, "nps": None,
            "properties": {}, "context": {}, "ingested_at": 0, **fields}
