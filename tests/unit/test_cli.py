"""The command line's own behaviour: help, checks made before anything starts, `sql` output."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from pipeline import cli
from pipeline.errors import Terminal


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
            cli.require_files(paths)
        assert error.value.hint == "pass NDJSON files, or - for stdin"
    assert str(error.value).startswith(f"{tmp_path} is a directory")
    assert cli.main(["replay", "/nonexistent.ndjson"]) == 2
    cli.require_files(["-", str(tmp_path / "ok.ndjson")])
