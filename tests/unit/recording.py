"""A stand-in for the stages' Kafka producer in unit tests: it keeps what was produced."""

from __future__ import annotations

from typing import Any


class RecordingProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def produce(self, topic: str, **kwargs: Any) -> None:
        self.sent.append((topic, kwargs))

    def poll(self, _: float) -> None:
        pass

    def flush(self, _: float) -> int:
        return 0
