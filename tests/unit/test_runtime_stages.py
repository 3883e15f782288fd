"""Each stage of a worker produces through its own producer and shares everything else."""

from __future__ import annotations

from pipeline.runtime import Runtime
from pipeline.settings import Settings


class Recording:
    def __init__(self) -> None:
        self.flushed = 0

    def flush(self, timeout: float = 0) -> int:
        self.flushed += 1
        return 0


def test_a_stage_has_its_own_producer_and_the_workers_state(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    made: list[Recording] = []
    monkeypatch.setattr("pipeline.runtime.producer", lambda bootstrap: made.append(Recording()) or made[-1])
    rt = Runtime(Settings.from_env({"PARCOURS_DATA_DIR": str(tmp_path)}), "localhost:1", Recording())  # type: ignore[arg-type]
    identity, sessions = rt.for_stage(), rt.for_stage()
    assert len({id(rt.producer), id(identity.producer), id(sessions.producer)}) == 3
    assert identity.graph is rt.graph and sessions.stats is rt.stats and identity.graph_ready is rt.graph_ready
    rt.close()  # shutdown sends what every stage still holds
    assert [p.flushed for p in (rt.producer, *made)] == [1, 1, 1]  # type: ignore[attr-defined]
