"""Which event loop a process runs on (PARCOURS_EVENT_LOOP)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pipeline import event_loop
from pipeline.errors import ConfigError
from pipeline.settings import Settings, event_loop_of


async def loop_name() -> str:
    await asyncio.sleep(0)
    await asyncio.to_thread(lambda: None)  # the stages wait for acknowledgements in threads
    return event_loop.name(asyncio.get_running_loop())


def test_each_loop_runs_a_coroutine_to_its_result() -> None:
    pytest.importorskip("uvloop")
    assert event_loop.run(loop_name(), "uvloop") == "uvloop"
    assert event_loop.run(loop_name(), "asyncio") == "asyncio"


def test_the_setting_defaults_to_uvloop_and_refuses_other_names(tmp_path: Path) -> None:
    def settings(**env: str) -> Settings:
        return Settings.from_env({"PARCOURS_DATA_DIR": str(tmp_path), **env}, dotenv=tmp_path / "none")

    assert settings().event_loop == "uvloop"
    assert settings(PARCOURS_EVENT_LOOP="AsyncIO").event_loop == "asyncio"
    with pytest.raises(ConfigError) as error:
        event_loop_of({"PARCOURS_EVENT_LOOP": "tokio"})
    assert "PARCOURS_EVENT_LOOP='tokio'" in str(error.value) and "uvloop, asyncio" in error.value.hint
