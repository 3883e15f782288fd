"""The command line's own behaviour: help, checks made before anything starts, `sql` output."""

from __future__ import annotations

import argparse
import fcntl
import io
import os
from pathlib import Path
from typing import Any

import pytest

from jobs.replay_input import require_inputs
from pipeline import cli
from pipeline.errors import Terminal
from pipeline.progress import Progress
from pipeline.settings import Settings


def commands(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    """Every (sub)command's parser by its full name, e.g. 'identity show'."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found[f"{prefix}{name}"] = child
                found.update(commands(child, f"{prefix}{name} "))
    return found


def test_every_command_and_argument_has_help() -> None:
    top = cli.parser()
    listed = {a.dest for a in top._subparsers._group_actions[0]._choices_actions}  # type: ignore[union-attr]
    found = commands(top)
    assert {"demo", "replay", "up", "worker", "migrate", "doctor", "sql", "identity show"} <= set(found)
    assert listed == {name for name in found if " " not in name}  # each one listed in `parcours --help`
    for name, parser in found.items():
        assert parser.description, f"`parcours {name} --help` has no description"
        for action in parser._actions:
            if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                assert action.help, f"`parcours {name}`: {action.dest} has no help text"


def test_replay_of_a_missing_file_fails_before_the_stack_starts(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import pipeline.embedded.stack as stack

    monkeypatch.setattr(stack, "Stack", lambda *a, **k: pytest.fail("the stack was started"))
    monkeypatch.setenv("PARCOURS_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "ok.ndjson").write_text("")
    for paths in (["-", str(tmp_path / "ok.ndjson"), "/nonexistent.ndjson"], [str(tmp_path)]):
        with pytest.raises(Terminal) as error:
            require_inputs(paths)
        assert error.value.hint == "pass NDJSON files, or - for stdin"
    assert str(error.value).startswith(f"{tmp_path} is a directory")
    assert cli.main(["replay", "/nonexistent.ndjson"]) == 2
    (tmp_path / "utf16.ndjson").write_bytes('{"event_id": "1"}\n'.encode("utf-16"))
    assert cli.main(["replay", str(tmp_path / "utf16.ndjson")]) == 2
    require_inputs(["-", str(tmp_path / "ok.ndjson")])


def test_engine_held_by_another_process_is_named_with_a_hint(tmp_path: Path) -> None:
    settings = Settings.from_env({"PARCOURS_DATA_DIR": str(tmp_path), "PARCOURS_PII_SALT": "s" * 32},
                                 dotenv=tmp_path / "none")
    cli.require_embedded_clickhouse_free(settings)  # no engine was ever opened there
    status = tmp_path / "clickhouse" / "status"
    status.parent.mkdir()
    status.write_text("PID: 4242\nStarted at: 2026-11-26 15:32:00\n")
    cli.require_embedded_clickhouse_free(settings)  # the file of an engine that stopped
    # flock conflicts between two open files, even in one process: as the engine's would
    with open(status) as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(Terminal) as error:
            cli.require_embedded_clickhouse_free(settings)
        status.write_text(f"PID: {os.getpid()}\n")
        cli.require_embedded_clickhouse_free(settings)  # this process's own engine
    assert "held by another parcours process (pid 4242)" in str(error.value)
    assert "stop that process" in error.value.hint and "PARCOURS_CLICKHOUSE_URL" in error.value.hint


@pytest.mark.parametrize(("query", "trailing"), [
    ("SELECT 1 FORMAT JSON", True),
    ("select 1 format CSV;\n", True),
    ("SELECT 1 AS format", False),
    ("SELECT format FROM t ORDER BY format DESC", False),
    ("SELECT 'FORMAT JSON' AS x", False),
])
def test_trailing_format_clause_is_recognised(query: str, trailing: bool) -> None:
    assert bool(cli.TRAILING_FORMAT.search(query)) is trailing


def test_sql_prints_a_format_clause_output_as_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capfd: pytest.CaptureFixture[str], clickhouse: Any) -> None:
    from pipeline.sink.clickhouse import _clients

    (url,) = _clients  # the one engine this test process may open (the `clickhouse` fixture's)
    monkeypatch.setenv("PARCOURS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PARCOURS_CLICKHOUSE_URL", url)
    assert cli.main(["sql", "SELECT 1 AS a, 'x' AS b FORMAT JSONEachRow"]) == 0
    assert capfd.readouterr().out == '{"a":1,"b":"x"}\n'
    assert cli.main(["sql", "--json", "SELECT 1 FORMAT JSON"]) == 2
    assert "--json and a FORMAT clause" in capfd.readouterr().err


@pytest.mark.parametrize("query", ["SELECT throwIf(1)", "SELECT toDate('x')", "SELEC nonsense"])
def test_sql_a_query_clickhouse_cannot_run_is_the_users_to_fix_with_a_hint(
        query: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
        clickhouse: Any) -> None:
    from pipeline.sink.clickhouse import _clients

    (url,) = _clients
    monkeypatch.setenv("PARCOURS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PARCOURS_CLICKHOUSE_URL", url)
    assert cli.main(["sql", query]) == 2
    err = capfd.readouterr().err
    assert "hint: fix the" in err and "retry" not in err.lower()


@pytest.mark.parametrize(("query", "count"), [
    ("", 0), ("  \n", 0), (";", 0), ("-- nothing", 0),
    ("SELECT 1", 1), ("SELECT 1;", 1), ("SELECT 1 ;\n", 1), ("SELECT 1; -- done", 1), ("SELECT 1;;", 1),
    ("SELECT ';' AS x", 1), ("SELECT `a;b` FROM t", 1), ("/* a; b */ SELECT 1", 1), ("SELECT 1 -- a; b", 1),
    ("SELECT 1; SELECT 2", 2), ("SELECT 'it''s;'; SELECT 2;", 2),
])
def test_statements_are_counted_outside_quotes_and_comments(query: str, count: int) -> None:
    assert cli.count_statements(query) == count


def test_sql_refuses_an_empty_query_and_several_statements_before_connecting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    import pipeline.sink.clickhouse as clickhouse

    monkeypatch.setattr(clickhouse, "connect", lambda *a, **k: pytest.fail("connected"))
    monkeypatch.setenv("PARCOURS_DATA_DIR", str(tmp_path))
    assert cli.main(["sql", " "]) == 2
    assert capfd.readouterr().err.startswith("parcours: empty query\n  hint: ")
    assert cli.main(["sql", "SELECT 1; SELECT 2"]) == 2
    assert "one statement at a time" in capfd.readouterr().err


def test_json_times_are_iso_8601_with_milliseconds_and_their_zone() -> None:
    from datetime import UTC, date, datetime, timedelta, timezone

    naive = datetime(2026, 3, 1, 9, 0)  # noqa: DTZ001  (what clickhouse-connect returns for UTC columns)
    assert cli.json_value(naive) == "2026-03-01T09:00:00.000Z"
    assert cli.json_value(datetime(2026, 3, 1, 9, 0, 0, 120000, tzinfo=UTC)) == "2026-03-01T09:00:00.120Z"
    assert cli.json_value(naive.replace(microsecond=123456)) == "2026-03-01T09:00:00.123456Z"  # DateTime64(6)
    paris = timezone(timedelta(hours=1))
    assert cli.json_value(datetime(2026, 3, 1, 10, 0, tzinfo=paris)) == "2026-03-01T10:00:00.000+01:00"
    assert cli.json_value(date(2026, 3, 1)) == "2026-03-01"


def test_sql_json_prints_datetime64_with_milliseconds_and_z(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capfd: pytest.CaptureFixture[str], clickhouse: Any) -> None:
    from pipeline.sink.clickhouse import _clients

    (url,) = _clients
    monkeypatch.setenv("PARCOURS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PARCOURS_CLICKHOUSE_URL", url)
    assert cli.main(["sql", "--json", "SELECT toDateTime64('2026-03-01 09:00:00', 3, 'UTC') AS t, "
                                      "toDate('2026-03-01') AS d, 1 AS n"]) == 0
    assert capfd.readouterr().out == '{"t":"2026-03-01T09:00:00.000Z","d":"2026-03-01","n":1}\n'


def test_identity_show_of_an_unknown_kind_names_the_known_ones_before_connecting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    import pipeline.sink.clickhouse as clickhouse

    monkeypatch.setattr(clickhouse, "connect", lambda *a, **k: pytest.fail("connected"))
    monkeypatch.setenv("PARCOURS_DATA_DIR", str(tmp_path))
    assert cli.main(["identity", "show", "emial", "jane@example.com"]) == 2
    err = capfd.readouterr().err
    assert err.startswith("parcours: unknown identifier kind 'emial'\n")
    assert "hint: use one of " in err and "user_id" in err and "email" in err
    assert cli.main(["identity", "show", "email", " "]) == 2
    assert "no email value given" in capfd.readouterr().err


def test_progress_off_a_terminal_prints_its_last_line_once() -> None:
    stream = io.StringIO()
    progress = Progress("process", total=10, stream=stream)
    progress.update(10, force=True)
    progress.finish()  # was a second, identical "process [###...] 100.0%" line
    assert stream.getvalue().count("100.0%") == 1, stream.getvalue()
    progress.update(12)  # not rendered (within every_s): finish shows where it ended
    progress.finish()
    assert "12/10" in stream.getvalue().splitlines()[-1]
