"""The topics a run creates on the real embedded broker carry topics.toml's configs: the broker
itself describes them (DescribeConfigs), so the declared changelog retention reached it, and
`parcours doctor` reads them back as it does on a cluster."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

from pipeline import doctor
from pipeline.doctor import OK
from pipeline.embedded.broker import EmbeddedBroker
from pipeline.kafka import ensure_topics
from pipeline.settings import Settings
from pipeline.topics import topics

pytestmark = pytest.mark.integration


def test_state_topics_are_created_never_to_expire(tmp_path: Path) -> None:
    broker = EmbeddedBroker(tmp_path / "broker")
    bootstrap = broker.start()
    try:
        ensure_topics(bootstrap, topics().all(), replication=-1)  # -1: the broker's default
        admin = AdminClient({"bootstrap.servers": bootstrap})
        declared = [t for t in topics().all() if t.config]
        futures = admin.describe_configs([ConfigResource(ResourceType.TOPIC, t.name) for t in declared])
        described = {r.name: {k: v.value for k, v in f.result(10).items()} for r, f in futures.items()}
        assert described[topics().links.name]["retention.ms"] == "-1"
        for topic in declared:
            assert dict(topic.config).items() <= described[topic.name].items(), topic.name
        metadata = admin.list_topics(timeout=10)
        assert {t.name for t in topics().all()} <= set(metadata.topics)
        # doctor, pointed at it as at a cluster, reads the same configs back and finds them right
        settings = Settings.from_env({"PARCOURS_DATA_DIR": str(tmp_path / "data"), "PARCOURS_PII_SALT": "x" * 32,
                                      "PARCOURS_KAFKA_BOOTSTRAP": bootstrap}, dotenv=tmp_path / "none")
        checks = doctor._kafka(settings)
        assert {c.status for c in checks} == {OK}, [c.render() for c in checks if c.status != OK]
        assert any("retention.ms=-1" in c.detail for c in checks)
    finally:
        broker.stop()
