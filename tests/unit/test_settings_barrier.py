"""Settings from the environment, and end-of-input barrier counting."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.barrier import BarrierTracker
from pipeline.errors import ConfigError
from pipeline.settings import Settings, parse_duration, read_dotenv, redact_url


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


def test_dotenv_comments_after_a_bare_value_are_comments_and_quotes_keep_their_hash(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PARCOURS_SESSION_GAP=45m  # compose-style comment\n"
                        "PARCOURS_BI_PASSWORD=\"s3cr#t # not a comment\"  # this one is\n"
                        "PARCOURS_BI_USER='bi#1'\n"
                        "PARCOURS_WRITE_KEYS=key#1,key-2\t# a '#' inside a bare value stays\n"
                        "PARCOURS_HTTP_PORT=\"7000\"\n")
    assert read_dotenv(env_file) == {
        "PARCOURS_SESSION_GAP": "45m", "PARCOURS_BI_PASSWORD": "s3cr#t # not a comment", "PARCOURS_BI_USER": "bi#1",
        "PARCOURS_WRITE_KEYS": "key#1,key-2", "PARCOURS_HTTP_PORT": "7000"}
    s = Settings.from_env({"PARCOURS_DATA_DIR": str(tmp_path)}, dotenv=env_file)
    assert s.session_gap_s == 2700 and s.bi_password == "s3cr#t # not a comment"


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


def _from(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"PARCOURS_DATA_DIR": str(tmp_path), **env}, dotenv=tmp_path / "none")


@pytest.mark.parametrize(("name", "value", "words"), [
    ("PARCOURS_HTTP_PORT", "70000", "between 1 and 65535"),
    ("PARCOURS_HTTP_PORT", "-1", "between 1 and 65535"),
    ("PARCOURS_HTTP_PORT", "0", "between 1 and 65535"),
    ("PARCOURS_BATCH_SIZE", "0", "at least 1"),
    ("PARCOURS_BATCH_SIZE", "-5", "at least 1"),
    ("PARCOURS_SESSION_GAP", "0", "longer than zero"),
    ("PARCOURS_SESSION_GAP", "0m", "longer than zero"),
])
def test_numbers_out_of_range_are_refused_with_a_hint(tmp_path: Path, name: str, value: str, words: str) -> None:
    with pytest.raises(ConfigError) as error:
        _from(tmp_path, **{name: value})
    message, hint = str(error.value).splitlines()
    assert message.startswith(f"{name}={value!r}") and words in message
    assert hint.startswith("  hint: ") and name not in hint


def test_numbers_at_the_edges_are_accepted(tmp_path: Path) -> None:
    s = _from(tmp_path, PARCOURS_HTTP_PORT="65535", PARCOURS_BATCH_SIZE="1", PARCOURS_ALLOWED_LATENESS="0")
    assert (s.http_port, s.batch_size, s.allowed_lateness_s) == (65535, 1, 0.0)


@pytest.mark.parametrize("url", ["bogus://x", "clickhouse://h:9000/db", "localhost:8123", "http://", "chdb://"])
def test_clickhouse_url_of_an_unsupported_form_names_the_accepted_forms(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError) as error:
        _from(tmp_path, PARCOURS_CLICKHOUSE_URL=url)
    assert "PARCOURS_CLICKHOUSE_URL" in str(error.value) and "unreachable" not in str(error.value)
    assert "chdb://PATH" in error.value.hint and "http(s)://user:pass@host:port/db" in error.value.hint


def test_clickhouse_url_scheme_is_named_and_the_password_is_not(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        _from(tmp_path, PARCOURS_CLICKHOUSE_URL="bogus://bob:s3cret@x")
    assert "unsupported scheme (bogus://)" in str(error.value) and "s3cret" not in str(error.value)
    with pytest.raises(ConfigError) as error:
        _from(tmp_path, PARCOURS_CLICKHOUSE_URL="http://bob:s3cret@x:port/db")  # urlsplit cannot read it
    assert "s3cret" not in str(error.value)
    for url in ("chdb:///tmp/x", "http://bob:s3cret@ch:8123/parcours", "https://ch.example.com/db"):
        assert _from(tmp_path, PARCOURS_CLICKHOUSE_URL=url).clickhouse_url == url


def test_unknown_log_level_is_refused_with_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        _from(tmp_path, PARCOURS_LOG_LEVEL="LOUD")
    assert "PARCOURS_LOG_LEVEL='LOUD'" in str(error.value)
    assert "DEBUG, INFO, WARNING, ERROR, ALL" in error.value.hint
    assert _from(tmp_path, PARCOURS_LOG_LEVEL="warning").log_level == "WARNING"
    assert _from(tmp_path, PARCOURS_LOG_LEVEL="all").log_level == "ALL"


def test_sink_is_a_yes_or_a_no_in_any_case_and_anything_else_is_refused(tmp_path: Path) -> None:
    for value, sink in (("1", True), ("0", False), ("False", False), ("OFF", False), (" no ", False),
                        ("Yes", True), ("", True)):
        assert _from(tmp_path, PARCOURS_SINK=value).sink is sink, value
    assert _from(tmp_path).sink is True
    with pytest.raises(ConfigError) as error:
        _from(tmp_path, PARCOURS_SINK="maybe")  # was: the sink on, silently
    assert str(error.value).startswith("PARCOURS_SINK='maybe'") and "set it to 1 or 0" in error.value.hint


@pytest.mark.parametrize(("where", "words"), [
    ("file", "is a file"), ("file/data", "is under a file"), ("/proc/parcours", "cannot be created"),
])
def test_a_data_dir_that_cannot_be_one_is_refused_with_a_hint(tmp_path: Path, where: str, words: str) -> None:
    (tmp_path / "file").write_text("not a directory")
    for salt in ({}, {"PARCOURS_PII_SALT": "x" * 32}):  # the per-install salt lives there, not only it
        with pytest.raises(ConfigError) as error:
            Settings.from_env({"PARCOURS_DATA_DIR": str(tmp_path / where), **salt}, dotenv=tmp_path / "none")
        assert str(error.value).startswith("PARCOURS_DATA_DIR=") and words in str(error.value)
        assert "set PARCOURS_DATA_DIR to a directory" in error.value.hint


@pytest.mark.parametrize("value", ["XX", "france", "", "001"])
def test_phone_country_must_be_a_region_the_phone_library_knows(tmp_path: Path, value: str) -> None:
    # anything else made every national-form phone number (06 12 34 56 78) a silent drop
    with pytest.raises(ConfigError) as error:
        _from(tmp_path, PARCOURS_PHONE_COUNTRY=value)
    assert str(error.value).startswith(f"PARCOURS_PHONE_COUNTRY={value!r}") and "FR, DE" in error.value.hint
    assert _from(tmp_path, PARCOURS_PHONE_COUNTRY=" de ").phone_country == "DE"
    assert _from(tmp_path).phone_country == "FR"


def test_kafka_replication_defaults_to_one_embedded_and_to_the_clusters_default(tmp_path: Path) -> None:
    def replication(**env: str) -> int:
        return Settings.from_env({"PARCOURS_DATA_DIR": str(tmp_path), **env}, dotenv=tmp_path / "none").kafka_replication

    assert replication() == 1  # the embedded broker is one node
    assert replication(PARCOURS_KAFKA_BOOTSTRAP="kafka:9092") == -1  # default.replication.factor
    assert replication(PARCOURS_KAFKA_BOOTSTRAP="kafka:9092", PARCOURS_KAFKA_REPLICATION="3") == 3
    assert replication(PARCOURS_KAFKA_BOOTSTRAP="kafka:9092", PARCOURS_KAFKA_REPLICATION="") == -1
    for bad in ("0", "-2", "three"):
        with pytest.raises(ConfigError, match="PARCOURS_KAFKA_REPLICATION") as error:
            replication(PARCOURS_KAFKA_REPLICATION=bad)
        assert error.value.hint

