"""Outcomes of ingesting one raw message: a valid event or a dead letter with its reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: A validated event as it travels on internal topics (orjson-encoded inside a batch):
#: {event_id, event_type, occurred_at (epoch ms), channel, touchpoint, stage,
#:  identifiers {kind: value, email/phone hashed}, revenue, currency, order_id, csat, nps,
#:  properties, context}
Event = dict[str, Any]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    reason: str
    """Short code first (e.g. `invalid_occurred_at`), then a colon and the detail."""

    @property
    def code(self) -> str:
        return self.reason.split(":", 1)[0]


class Rejected(Exception):
    """Raised inside the pure validators; turned into a DeadLetter at the stage boundary."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
