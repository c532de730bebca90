"""`redheart --help` and every command's help say what their source says.

Typer renders help through Rich markup, which takes a bracketed word such as
`[run]` for a style tag and drops it ("this profile's runs_root"), and keeps a
docstring's line breaks in the commands panel, cutting a summary mid-sentence.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest
import typer.main
from rich.text import Text

from redheart.cli import app
from tests.conftest import ROOT, run_here


def _commands() -> Iterator[tuple[str, object]]:
    def walk(command: object, path: str) -> Iterator[tuple[str, object]]:
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, f"{path} {name}")

    yield from walk(typer.main.get_command(app), "redheart")


COMMANDS = dict(_commands())


def _texts(command: object) -> Iterator[str]:
    yield command.help or ""
    for param in command.params:
        yield getattr(param, "help", None) or ""


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_no_help_text_is_taken_for_markup(path):
    for text in _texts(COMMANDS[path]):
        meant = text.replace("\\[", "[")
        assert Text.from_markup(text).plain == meant, f"{path}: escape '[' as '\\\\[' in {text!r}"


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_each_command_summary_is_one_line(path):
    summary = inspect.cleandoc(COMMANDS[path].help or "").split("\n\n")[0]
    assert "\n" not in summary, f"{path}: the commands panel would break {summary!r}"


def test_bracketed_profile_sections_reach_the_help_page():
    runs = run_here("runs", "--help")
    assert runs.returncode == 0, runs.stderr
    assert "this profile's [run]" in runs.stdout


def test_the_readme_names_every_command_that_takes_set():
    """The README's list of commands with `--set` is the CLI's, both ways."""
    text = " ".join((ROOT / "README.md").read_text().split())
    listed = text.split("Every command that reads a profile (", 1)[1].split(")", 1)[0]
    named = {name.strip(" `") for name in listed.replace(" and ", ", ").split(",")}
    takes_set = {path.removeprefix("redheart ") for path, command in COMMANDS.items()
                 if any("--set" in getattr(p, "opts", []) for p in command.params)}
    assert named == takes_set
