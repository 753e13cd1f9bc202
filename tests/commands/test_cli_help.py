"""`tubedemo --help` is the CLI's own map: the commands grouped by the talk's lifecycle, each
with its one-line description whole, in a narrow and in a wide terminal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.core import TyperCommand, TyperGroup

from tubedemo.cli import _Lifecycle, _register, app
from tubedemo.commands.options import summary

SECTIONS = [title for title, _ in _Lifecycle.sections]
README = Path(__file__).resolve().parents[2] / "README.md"


def registered() -> dict[str, TyperCommand | TyperGroup]:
    """The root's commands, in registration order."""
    _register()
    return dict(typer.main.get_group(app).commands)  # type: ignore[arg-type]


def help_text(columns: int, *argv: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", "from tubedemo.cli import main; main()", *argv, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={"COLUMNS": str(columns), "PATH": "/usr/bin:/bin"},
    )
    return done.stdout


def listed(text: str) -> dict[str, list[tuple[str, str]]]:
    """Help's sections -> (command, description with its wrapped lines joined) in order."""
    sections: dict[str, list[tuple[str, str]]] = {}
    rows: list[tuple[str, str]] | None = None
    for line in text.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            title = line[:-1]
            rows = None if title in ("Options", "Usage") else sections.setdefault(title, [])
        elif rows is not None and line.startswith("  ") and not line.startswith("   "):
            name, _, description = line.strip().partition(" ")
            rows.append((name, description.strip()))
        elif rows is not None and line.strip():
            name, description = rows[-1]
            gap = "" if description.endswith("-") else " "  # Click also wraps after a hyphen
            rows[-1] = (name, f"{description}{gap}{line.strip()}")
    return sections


def test_every_registered_command_is_in_exactly_one_lifecycle_section() -> None:
    names = [name for _, section in _Lifecycle.sections for name in section]
    assert sorted(names) == sorted(registered())
    assert len(names) == len(set(names))


@pytest.mark.parametrize("columns", [80, 110])
def test_help_lists_the_sections_in_the_talks_order_with_every_description_whole(
    columns: int,
) -> None:
    commands = registered()
    text = help_text(columns)
    shown = listed(text)
    assert list(shown) == SECTIONS
    for title, names in _Lifecycle.sections:
        assert shown[title] == [(name, summary(commands[name])) for name in names]
    body = text.split("Options:", 1)[1]  # the usage line's "[ARGS]..." is Click's own
    assert "..." not in body


def test_a_wide_terminal_gets_each_description_on_one_line() -> None:
    text = help_text(110)
    for name, command in registered().items():
        assert f"  {name.ljust(9)}  {summary(command)}\n" in text


@pytest.mark.parametrize("group", ["config", "crds", "session", "images", "lab"])
def test_a_command_groups_help_lists_its_subcommands_whole(group: str) -> None:
    subgroup = registered()[group]
    assert isinstance(subgroup, TyperGroup)
    subcommands = subgroup.commands
    shown = listed(help_text(80, group))
    assert shown == {"Commands": [(n, summary(c)) for n, c in subcommands.items()]}


def test_a_summary_is_the_first_sentence_of_the_help_not_an_abbreviation() -> None:
    command = TyperCommand(
        "x", help="Override a field, e.g. --set a=1 (repeatable). Later text.\n\nMore."
    )
    assert summary(command) == "Override a field, e.g. --set a=1 (repeatable)."
    assert summary(TyperCommand("y", help="One line\nwrapped.")) == ("One line wrapped.")


def test_the_readmes_command_table_has_the_same_sections_in_the_same_order() -> None:
    text = README.read_text(encoding="utf-8")
    table = text.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    readme: list[tuple[str, list[str]]] = []
    for row in table.splitlines():
        first = row.split("|")[1].strip() if row.startswith("| ") else ""
        if first.startswith("**"):
            readme.append((first.strip("*"), []))
        elif first.startswith("`tubedemo "):
            name = first.strip("`").split()[1]
            if name not in readme[-1][1]:
                readme[-1][1].append(name)
    assert readme == [(title, list(names)) for title, names in _Lifecycle.sections]
