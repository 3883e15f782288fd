"""An output Kafka gives up on is never followed by a commit: flushes fail from then on, and a
worker's stage stops the process at once (exit 75) instead of acknowledging its input.

The failure is real librdkafka behaviour: a producer whose broker never answers gives up on
a message after `message.timeout.ms` (1 s here instead of 5 min) and reports it failed.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer

from pipeline import kafka
from pipeline.embedded.broker import EmbeddedBroker, free_port
from pipeline.kafka import DeliveryFailed, ensure_topics, flush, produce, producer
from pipeline.topics import Topic
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

TOPIC = Topic("lost", "parcours.test.lost", 2)


def unanswered() -> Producer:
    """A producer towards a port nobody listens on, giving up after a second."""
    return Producer({"bootstrap.servers": f"127.0.0.1:{free_port()}", "message.timeout.ms": 1000,
                     "delivery.report.only.error": True, "log.connection.close": False})


@pytest.fixture
def bootstrap(tmp_path: Path) -> Iterator[str]:
    broker = EmbeddedBroker(tmp_path / "broker")
    address = broker.start()
    ensure_topics(address, [TOPIC])
    yield address
    broker.stop()
    kafka.FAILED_DELIVERIES.clear()  # process-wide on purpose; other tests start clean


def test_a_failed_delivery_fails_every_later_flush(bootstrap: str) -> None:
    prod, lost = producer(bootstrap), unanswered()
    produce(prod, TOPIC.name, b"fine", partition=0)
    flush(prod, 15)  # delivered: nothing to say
    produce(lost, TOPIC.name, b"lost", partition=1)
    with pytest.raises(DeliveryFailed, match=r"1 messages could not be delivered .*parcours\.test\.lost\[1\]"):
        flush(lost, 15)
    produce(prod, TOPIC.name, b"fine again", partition=0)
    with pytest.raises(DeliveryFailed):  # sticky, process-wide: the lost one's input must never be committed
        flush(prod, 15)


STAGE = """
import asyncio, sys
from confluent_kafka import Producer
from pipeline.kafka import produce
from pipeline.runtime import Runtime
from pipeline.settings import Settings

async def main() -> None:
    prod = Producer({"bootstrap.servers": sys.argv[1], "message.timeout.ms": 1000})
    rt = Runtime(Settings.from_env({"PARCOURS_DATA_DIR": sys.argv[2]}), sys.argv[1], prod)
    produce(rt.producer, "parcours.test.lost", b"lost", partition=1)
    await rt.flush_outputs()
    print("committed")  # what a stage does once its outputs are acknowledged

asyncio.run(main())
"""


def test_a_stage_whose_output_is_lost_stops_without_going_on(tmp_path: Path) -> None:
    nobody = f"127.0.0.1:{free_port()}"
    done = subprocess.run([sys.executable, "-c", STAGE, nobody, str(tmp_path / "data")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 75, done.stderr[-2000:]
    assert "committed" not in done.stdout
    assert "could not be delivered to Kafka" in done.stderr and "stopping now, without committing" in done.stderr
