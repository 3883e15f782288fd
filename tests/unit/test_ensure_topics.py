"""What ensure_topics asks the cluster for: the declared configs of infra/kafka/topics.toml and
the configured replication factor reach each NewTopic (the admin client is a recorder)."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka.admin import NewTopic

from pipeline import kafka
from pipeline.errors import Terminal
from pipeline.topics import topics


class _Admin:
    """An admin client of a cluster holding `existing` topics, recording what it is asked to create."""

    created: list[NewTopic] = []

    def __init__(self, config: dict[str, Any], existing: tuple[str, ...] = ()) -> None:
        self.existing = existing

    def list_topics(self, timeout: float) -> Any:
        return type("Metadata", (), {"topics": {name: None for name in self.existing}})()

    def create_topics(self, new: list[NewTopic], operation_timeout: float) -> dict[str, Any]:
        _Admin.created = new
        done = type("Done", (), {"result": lambda self: None})()
        return {t.topic: done for t in new}


@pytest.fixture
def admin(monkeypatch: pytest.MonkeyPatch) -> type[_Admin]:
    _Admin.created = []
    monkeypatch.setattr(kafka, "AdminClient", _Admin)
    monkeypatch.setattr(kafka, "check_reachable", lambda bootstrap: None)  # no server behind the recorder
    return _Admin


def test_a_refused_or_unknown_bootstrap_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # librdkafka would retry for the whole 30 s timeout, then say "Failed to get metadata"
    monkeypatch.setattr(kafka, "AdminClient", lambda config: pytest.fail("asked the cluster"))
    for bootstrap, why in (("127.0.0.1:1", "Connection refused"), ("PLAINTEXT://127.0.0.1:1,127.0.0.1:2", "127.0.0.1:2"),
                           ("nosuchhost.invalid:9092", "nosuchhost.invalid:9092: ")):
        with pytest.raises(Terminal) as error:
            kafka.ensure_topics(bootstrap, topics().all())
        assert why in str(error.value) and "PARCOURS_KAFKA_BOOTSTRAP" in (error.value.hint or ""), error.value


def test_declared_configs_and_replication_reach_every_new_topic(admin: type[_Admin]) -> None:
    kafka.ensure_topics("kafka:9092", topics().all(), replication=-1)
    created = {t.topic: t for t in admin.created}
    assert set(created) == {t.name for t in topics().all()}
    assert {t.replication_factor for t in created.values()} == {-1}  # the cluster's default
    assert created[topics().links.name].config == {"retention.ms": "-1"}  # the graph's changelog never expires
    assert created[topics().sessions_changelog.name].config == {"cleanup.policy": "compact"}
    assert created[topics().profiles.name].config == {"cleanup.policy": "compact"}
    assert created[topics().raw.name].config == {}  # the broker's retention
    assert all(created[t.name].num_partitions == t.partitions for t in topics().all())


def test_replication_defaults_to_one_and_existing_topics_are_left_alone(
        admin: type[_Admin], monkeypatch: pytest.MonkeyPatch) -> None:
    links = topics().links
    monkeypatch.setattr(kafka, "AdminClient", lambda config: _Admin(config, existing=(links.name,)))
    kafka.ensure_topics("127.0.0.1:9092", topics().all())
    assert {t.replication_factor for t in admin.created} == {1}
    assert links.name not in {t.topic for t in admin.created}
