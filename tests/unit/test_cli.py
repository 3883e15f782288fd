"""The command line's own behaviour: help, checks made before anything starts, `sql` output."""

from __future__ import annotations

import argparse

from pipeline import cli


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
