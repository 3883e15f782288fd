"""An end-of-input barrier completes whichever worker consumed which of its copies: a
partition's next owner resumes from the committed offset, past the copies the previous owner
consumed, so the arrivals so far travel with the partition's state (the sessions changelog).
CI once waited forever here: a worker killed just after some copies had passed it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import codec
from pipeline.barrier import BarrierTracker
from pipeline.identity.agent import identity_path
from pipeline.runtime import Runtime
from pipeline.sessions import agent as sessions_agent
from pipeline.sessions import changelog
from pipeline.settings import Settings
from pipeline.topics import topics


class Recorder:
    """A producer that keeps what it was given."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int | None, bytes | None, bytes | None]] = []

    def produce(self, topic: str, value: bytes | None = None, key: bytes | None = None,
                partition: int | None = None, **_: Any) -> None:
        self.sent.append((topic, partition, key, value))

    def poll(self, timeout: float = 0) -> int:
        return 0


def sessionizer(tmp_path: Path, recorder: Recorder) -> sessions_agent.Sessionizer:
    settings = Settings.from_env({"PARCOURS_DATA_DIR": str(tmp_path), "PARCOURS_PII_SALT": "tests"})
    return sessions_agent.Sessionizer(Runtime(settings, "127.0.0.1:1", recorder))  # type: ignore[arg-type]


def copies(barrier_id: str) -> list[dict[str, Any]]:
    """Every copy a sessions partition receives: one per (valid, raw) pair from identity, then
    one from each sessions peer."""
    t = topics()
    upstream = [codec.decode(codec.barrier(barrier_id, "identity", identity_path(v, r, t.raw.partitions)))
                for v in range(t.valid.partitions) for r in range(t.raw.partitions)]
    peers = [codec.decode(codec.barrier(barrier_id, "sessions-peer", p)) for p in range(t.by_person.partitions)]
    return upstream + peers


def facts_barriers(recorder: Recorder) -> list[dict[str, Any]]:
    return [m for topic, _, _, value in recorder.sent if topic == topics().facts.name and value
            and (m := codec.decode(value))["t"] == "barrier"]


def test_identity_paths_are_distinct_and_counted_by_the_sessions_stage() -> None:
    t = topics()
    paths = {identity_path(v, r, t.raw.partitions) for v in range(t.valid.partitions) for r in range(t.raw.partitions)}
    assert len(paths) == t.valid.partitions * t.raw.partitions


def test_tracker_pending_round_trip() -> None:
    first = BarrierTracker(expected=3)
    first.arrive("b", 0), first.arrive("b", 2), first.arrive("done", 0)
    assert first.arrive("done", 1) is False and first.arrive("done", 2) is True
    assert first.pending() == {"b": [0, 2]}  # a completed barrier is no longer waiting
    second = BarrierTracker(expected=3)
    second.resume(first.pending())
    assert second.arrive("b", 2) is False and second.arrive("b", 1) is True


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_a_barrier_completes_across_a_hand_over(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    """The old owner handles some copies (in any order), writes its changelog and dies; the new
    owner restores from that changelog and gets the rest: the partition flushes and sends the
    barrier to every facts partition, exactly as if one worker had seen them all."""
    tmp_path = tmp_path_factory.mktemp("handover")
    arriving = data.draw(st.permutations(copies("b1")))
    cut = data.draw(st.integers(0, len(arriving)))
    partition = 1
    old_out, new_out = Recorder(), Recorder()
    old = sessionizer(tmp_path, old_out)
    old.through[partition] = -1
    old.handle_batch(partition, list(enumerate(arriving[:cut])))
    old.write_changelog(partition)
    latest = {key.decode(): value for topic, p, key, value in old_out.sent
              if topic == topics().sessions_changelog.name and p == partition and key is not None}

    async def restore(bootstrap: str, topic: str, at: int, empty: Any, now: float) -> changelog.Restored:
        assert at == partition
        return changelog.rebuild(latest, empty, now)  # what reading the changelog back gives

    new = sessionizer(tmp_path, new_out)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(changelog, "restore", restore)
        asyncio.run(new.ensure_restored(partition))
    new.handle_batch(partition, [(cut + i, m) for i, m in enumerate(arriving[cut:])])

    sent = facts_barriers(old_out) + facts_barriers(new_out)
    assert len(sent) == topics().facts.partitions  # once to every facts partition, not more, not less
    assert all(m["id"] == "b1" and m["origin"] == partition for m in sent)
