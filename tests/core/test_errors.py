"""Error families: one exit code each, the README's table, and the cause chain on request."""

from __future__ import annotations

import ast
import importlib
import os
import pkgutil
import re
import subprocess
from pathlib import Path

import pytest

import tubedemo
from tests.cli import tubedemo as run_tubedemo
from tubedemo.core.errors import (
    EXIT_CODES,
    ConfigError,
    TubedemoError,
    UsageError,
    debug_enabled,
    error_lines,
)

README = Path(__file__).resolve().parents[2] / "README.md"
PACKAGE = Path(tubedemo.__file__).resolve().parent


def tubedemo_run(*args: str, cwd: Path, debug: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TUBEDEMO_DEBUG"}
    if debug:
        env["TUBEDEMO_DEBUG"] = "1"
    return run_tubedemo(*args, cwd=cwd, env=env)


def _all_error_classes() -> set[type[TubedemoError]]:
    for module in pkgutil.walk_packages(tubedemo.__path__, "tubedemo."):
        if module.name.endswith("__main__"):
            continue
        importlib.import_module(module.name)
    found: set[type[TubedemoError]] = set()
    todo: list[type[TubedemoError]] = [TubedemoError]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return found


def test_each_family_has_its_own_exit_code_and_no_error_invents_one() -> None:
    families = {name: code for code, name in EXIT_CODES.items() if code}
    assert len(set(families.values())) == len(families)
    for cls in _all_error_classes():
        family = next(
            c for c in cls.__mro__ if c.__name__ in families and c.__module__.endswith("errors")
        )
        assert cls.exit_code == family.exit_code, f"{cls.__qualname__} overrides {family}"


def test_the_readme_table_lists_every_exit_code_with_its_family() -> None:
    text = README.read_text()
    section = text[text.index("### Exit codes") :]
    rows = dict(re.findall(r"^\| (\d+) \| `?(\w*)`?", section, flags=re.M))
    assert {int(code): name or "success" for code, name in rows.items()} == EXIT_CODES


def test_config_errors_are_usage_errors_exit_2() -> None:
    assert issubclass(ConfigError, UsageError) and ConfigError.exit_code == 2


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("mode", "karaoke"), 2, "choose quiz or survey"),
        (("report", "missing.jsonl"), 8, "no such recording"),
        (("simulate", "--set", "twin.engine.kv_cache_tokens=1024"), 10, "max_model_len"),
        # qr makes a missing folder (66f048b); a file in the folder's place still refuses
        (("qr", "--url", "https://x.example", "--png", "/dev/null/qr.png"), 12, "cannot write"),
        # a message echoing a value with Rich markup in it prints it as typed
        (("images", "push", "--registry", "https://x[/y]"), 2, "'https://x[/y]' is not a"),
    ],
)
def test_a_failing_command_exits_with_its_familys_code_and_one_line(
    tmp_path: Path, args: tuple[str, ...], code: int, words: str
) -> None:
    done = tubedemo_run(*args, cwd=tmp_path)
    assert done.returncode == code, done.stderr
    assert done.stderr.startswith("error:") and words in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_debug_prints_the_cause_chain_under_the_one_line(tmp_path: Path) -> None:
    done = tubedemo_run("report", "missing.jsonl", cwd=tmp_path, debug=True)
    assert done.returncode == 8
    lines = done.stderr.splitlines()
    assert lines[0].startswith("error:") and "no such recording" in lines[0]
    # The cause (the OS's own error) comes first, then the error it became.
    cause = next(i for i, line in enumerate(lines) if line.startswith("FileNotFoundError"))
    effect = next(i for i, line in enumerate(lines) if "RecordingError" in line)
    assert cause < effect
    assert "direct cause" in done.stderr


def test_error_lines_is_one_line_unless_debugging() -> None:
    try:
        try:
            raise OSError(28, "No space left on device")
        except OSError as exc:
            raise UsageError("--record out.jsonl: cannot replace") from exc
    except UsageError as exc:
        assert error_lines(exc, debug=False) == ["error: --record out.jsonl: cannot replace"]
        chain = "\n".join(error_lines(exc, debug=True))
    assert "No space left on device" in chain and "UsageError" in chain


@pytest.mark.parametrize(("value", "on"), [("1", True), ("yes", True), ("0", False), ("", False)])
def test_tubedemo_debug_switch(value: str, on: bool) -> None:
    assert debug_enabled({"TUBEDEMO_DEBUG": value}) is on


def bare_raises(source: str) -> list[int]:
    """Lines of ``source`` that raise TubedemoError itself (by name or as module.TubedemoError),
    called or not."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Raise) and node.exc is not None:
            raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            name = raised.attr if isinstance(raised, ast.Attribute) else getattr(raised, "id", "")
            if name == "TubedemoError":
                lines.append(node.lineno)
    return lines


def test_the_scan_finds_the_bare_base_error_however_it_is_raised() -> None:
    source = (
        "raise TubedemoError('a')\n"
        "raise errors.TubedemoError('b')\n"
        "raise TubedemoError\n"
        "raise UsageError('c')\n"
        "isinstance(exc, TubedemoError)\n"
    )
    assert bare_raises(source) == [1, 2, 3]


def test_no_module_raises_the_bare_base_error() -> None:
    """Every raise names a family: the base exits 1, the code of a declined prompt, and says
    nothing of what failed (README, "Exit codes")."""
    found = [
        f"{path.relative_to(PACKAGE.parent)}:{line}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for line in bare_raises(path.read_text(encoding="utf-8"))
    ]
    assert found == []
