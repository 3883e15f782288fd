"""Settings from the environment, and end-of-input barrier counting."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.barrier import BarrierTracker
from pipeline.errors import ConfigError
from pipeline.settings import Settings, parse_duration, redact_url


def test_defaults_follow_the_contract(tmp_path: Path) -> None:
    s = Settings.from_env({"PARCOURS_DATA_DIR": str(tmp_path)}, dotenv=tmp_path / "none")
    assert s.embedded_broker and s.embedded_clickhouse
    assert s.clickhouse_url == f"chdb://{tmp_path / 'clickhouse'}"
    assert s.session_gap_s == 1800 and s.http_port == 6066
    assert (tmp_path / "pii_salt").read_bytes() == s.pii_salt  # one salt per install
    assert Settings.from_env({"PARCOURS_DATA_DIR": str(tmp_path)}, dotenv=tmp_path / "none").pii_salt == s.pii_salt
    assert "pii_salt" not in repr(s)


def test_dotenv_is_read_and_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("# comment\nPARCOURS_SESSION_GAP=45m\nexport PARCOURS_HTTP_PORT='7000'\n")
    s = Settings.from_env({"PARCOURS_DATA_DIR": str(tmp_path), "PARCOURS_HTTP_PORT": "7100"}, dotenv=env_file)
    assert s.session_gap_s == 2700 and s.http_port == 7100


def test_bad_values_say_what_to_do() -> None:
    with pytest.raises(ConfigError) as error:
        parse_duration("soon", "PARCOURS_SESSION_GAP")
    assert "hint" in str(error.value)
    assert parse_duration("90s", "x") == 90 and parse_duration("1.5h", "x") == 5400


def test_secrets_are_redacted() -> None:
    assert redact_url("http://bi:s3cret@ch:8123/parcours") == "http://bi:***@ch:8123/parcours"


def test_barrier_fires_once_when_every_origin_has_arrived() -> None:
    tracker = BarrierTracker(expected=3)
    assert [tracker.arrive("b", o) for o in (0, 1, 1, 2, 2)] == [False, False, False, True, False]
    assert tracker.arrive("other", 0) is False
