"""One PII salt per database (0018, pipeline/sink/pii_salt.py): the first run records its
salt's fingerprint; a run with another salt is refused, and doctor says so."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from pipeline import cli, doctor
from pipeline.errors import ConfigError
from pipeline.settings import Settings
from pipeline.sink import pii_salt
from tests.conftest import empty


def test_the_first_salt_is_recorded_and_another_is_refused(clickhouse: Any, tmp_path: Any) -> None:
    empty(clickhouse)
    pii_salt.check(clickhouse, b"first-salt", "chdb")
    pii_salt.check(clickhouse, b"first-salt", "chdb")  # the same salt: nothing to say
    assert pii_salt.recorded(clickhouse) == [pii_salt.fingerprint(b"first-salt")]
    with pytest.raises(ConfigError, match="another PII salt") as refused:
        pii_salt.check(clickhouse, b"second-salt", "chdb")
    assert "PARCOURS_PII_SALT" in refused.value.hint
    assert pii_salt.recorded(clickhouse) == [pii_salt.fingerprint(b"first-salt")]
    # two first runs that raced with different salts both recorded theirs: the first one wins
    second = pii_salt.fingerprint(b"second-salt")
    clickhouse.command(f"INSERT INTO parcours.pii_salt VALUES ('{second}', now64(3) + 1)")
    pii_salt.check(clickhouse, b"first-salt", "chdb")
    with pytest.raises(ConfigError):
        pii_salt.check(clickhouse, b"second-salt", "chdb")

    def checks(salt: str) -> list[doctor.Check]:
        settings = Settings.from_env({"PARCOURS_DATA_DIR": str(tmp_path), "PARCOURS_PII_SALT": salt})
        return doctor._salt_of_the_data(settings, clickhouse)

    assert checks("first-salt") == []
    (failed,) = checks("second-salt")
    assert failed.status == doctor.FAIL and "PARCOURS_PII_SALT" in failed.fix


def test_the_fingerprint_tells_salts_apart_and_hides_them() -> None:
    assert pii_salt.fingerprint(b"a") == pii_salt.fingerprint(b"a") != pii_salt.fingerprint(b"b")
    assert "first-salt" not in pii_salt.fingerprint(b"first-salt")


def test_a_lookup_with_another_salt_is_refused_and_records_nothing(clickhouse: Any, tmp_path: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    empty(clickhouse)
    pii_salt.verify(clickhouse, b"any-salt", "chdb")  # nothing on record: nothing to compare
    assert pii_salt.recorded(clickhouse) == []
    pii_salt.check(clickhouse, b"first-salt", "chdb")
    monkeypatch.setattr("pipeline.sink.clickhouse.connect", lambda settings: clickhouse)
    # the data dir of a run made with PARCOURS_PII_SALT, looked into without it: a new salt
    settings = Settings.from_env({"PARCOURS_DATA_DIR": str(tmp_path)}, dotenv=tmp_path / "none.env")
    with pytest.raises(ConfigError, match="another PII salt"):  # was: "no identifier ... replayed?"
        cli.cmd_identity_show(settings, argparse.Namespace(kind="email", value="jane@example.com"))
    assert pii_salt.recorded(clickhouse) == [pii_salt.fingerprint(b"first-salt")]
