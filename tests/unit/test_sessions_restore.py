"""A sessions partition's state is read once, whoever asks first (the agent before its first
batch, an HTTP lookup, the restore started on assignment), and a read that a revocation
overtook is dropped and done again: it may miss what the partition's next owner wrote."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from pipeline.runtime import Runtime
from pipeline.sessions import agent as sessions_agent
from pipeline.sessions import changelog
from pipeline.settings import Settings


class NoProducer:
    def produce(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("nothing is produced here")

    def poll(self, timeout: float = 0) -> int:
        return 0


async def settle() -> None:
    for _ in range(5):  # a few turns of the loop: tasks started reach their first wait
        await asyncio.sleep(0)


def sessionizer(tmp_path: Path) -> sessions_agent.Sessionizer:
    settings = Settings.from_env({"PARCOURS_DATA_DIR": str(tmp_path), "PARCOURS_PII_SALT": "tests"})
    return sessions_agent.Sessionizer(Runtime(settings, "127.0.0.1:1", NoProducer()))  # type: ignore[arg-type]


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[asyncio.Event]:
    """Each changelog read waits for its event; the read's number is its `through`."""
    gates: list[asyncio.Event] = []

    async def restore(bootstrap: str, topic: str, partition: int, empty: Any, now: float) -> changelog.Restored:
        gate = asyncio.Event()
        gates.append(gate)
        number = len(gates)
        await gate.wait()
        return changelog.Restored(empty, through=number)

    monkeypatch.setattr(changelog, "restore", restore)
    return gates


def test_concurrent_askers_share_one_read(tmp_path: Path, reads: list[asyncio.Event]) -> None:
    async def scenario() -> None:
        s = sessionizer(tmp_path)
        askers = [asyncio.create_task(s.ensure_restored(2)) for _ in range(3)]
        await settle()
        assert len(reads) == 1 and not any(a.done() for a in askers)
        reads[0].set()
        await asyncio.gather(*askers)
        assert s.through[2] == 1
        await s.ensure_restored(2)  # restored: nothing read again
        assert len(reads) == 1

    asyncio.run(scenario())


def test_a_read_overtaken_by_a_revocation_is_dropped_and_done_again(tmp_path: Path,
                                                                      reads: list[asyncio.Event]) -> None:
    async def scenario() -> None:
        s = sessionizer(tmp_path)
        asker = asyncio.create_task(s.ensure_restored(1))
        await settle()
        s.revoke({1})  # the partition went to another worker, and came back, while it was read
        reads[0].set()
        await settle()
        assert 1 not in s.through and len(reads) == 2 and not asker.done()
        reads[1].set()
        await asker
        assert s.through[1] == 2  # the second read's state, not the overtaken one's

    asyncio.run(scenario())
