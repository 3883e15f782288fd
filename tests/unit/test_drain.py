"""jobs/drain.py: `forget` waits for what the pipeline holds only when something is in flight,
and gives up with a hint (nothing erased) when it does not come through. The real thing,
against an outage of the real engine, is tests/integration/test_forget_outage.py."""

from __future__ import annotations

from typing import Any

import pytest

from jobs import drain
from pipeline.errors import Terminal
from pipeline.topics import topics


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, int | None]] = []

    def produce(self, topic: str, value: bytes, key: Any = None, partition: int = -1, **_: Any) -> None:
        self.sent.append((topic, partition))

    def flush(self, timeout: float = 0) -> int:
        return 0


def test_the_stages_are_read_in_flow_order() -> None:
    t = topics()
    assert [topic.name for _, topic in drain.stages(t)] == [t.raw.name, t.valid.name, t.by_person.name, t.facts.name]
    assert [group for group, _ in drain.stages(t)] == ["parcours-ingest", "parcours", "parcours", "parcours-sink"]


def test_nothing_in_flight_means_no_barrier_and_no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drain, "in_flight", lambda bootstrap, t: {})
    monkeypatch.setattr(drain, "check_reachable", lambda bootstrap: None)  # no broker behind the fakes
    monkeypatch.setattr(drain, "producer", lambda bootstrap: pytest.fail("a barrier nobody needs"))
    assert drain.drain("kafka:9092", object(), topics()) is None  # type: ignore[arg-type]


def test_a_barrier_that_comes_through_ends_the_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    fake, said = FakeProducer(), []
    monkeypatch.setattr(drain, "in_flight", lambda bootstrap, t: {t.facts.name: 3})
    monkeypatch.setattr(drain, "check_reachable", lambda bootstrap: None)  # no broker behind the fakes
    monkeypatch.setattr(drain, "producer", lambda bootstrap: fake)
    monkeypatch.setattr(drain, "partitions_past", lambda client, barriers: topics().facts.partitions)
    barrier = drain.drain("kafka:9092", object(), topics(), say=said.append)  # type: ignore[arg-type]
    assert barrier is not None and barrier.startswith("forget-")
    assert fake.sent == [(topics().raw.name, p) for p in range(topics().raw.partitions)]
    assert "parcours.facts 3 messages" in said[0]


def test_a_pipeline_that_does_not_catch_up_stops_the_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drain, "in_flight", lambda bootstrap, t: {t.facts.name: 3})
    monkeypatch.setattr(drain, "check_reachable", lambda bootstrap: None)  # no broker behind the fakes
    monkeypatch.setattr(drain, "producer", lambda bootstrap: FakeProducer())
    monkeypatch.setattr(drain, "partitions_past", lambda client, barriers: 1)
    monkeypatch.setattr(drain, "POLL_S", 0.01)
    with pytest.raises(drain.PipelineBehind) as behind:
        drain.drain("kafka:9092", object(), topics(), wait_s=0.05, say=lambda _: None)  # type: ignore[arg-type]
    text = str(behind.value)
    assert "1/4 facts partitions" in text and "parcours.facts 3 messages" in text and "nothing was erased" in text
    assert "hint:" in text and "run the same command again" in text


def test_an_unreachable_kafka_is_named_at_once_not_logged_for_each_retry() -> None:
    # librdkafka logged every refused connection (194 lines over 11 s) before the error
    with pytest.raises(Terminal) as error:
        drain.drain("127.0.0.1:1", None, topics())  # type: ignore[arg-type]  # no ClickHouse needed
    assert "Connection refused" in str(error.value) and "PARCOURS_KAFKA_BOOTSTRAP" in (error.value.hint or "")
