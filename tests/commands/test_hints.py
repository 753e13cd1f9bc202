"""Every hint names an option that exists where it says:

- walked for real: each command that talks to the gateway, failing (no gateway anywhere, or
  nothing at --gateway-url), names only options that command takes;
- read from the source: what a command's own function says names its own options; an option
  inside `tubedemo X ...` exists on X; any other on some command, unless it is another tool's
  (`aws ... --query`, vLLM's flags).
"""

from __future__ import annotations

import ast
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from tubedemo.cli import _register, app

ROOT = Path(__file__).resolve().parents[2]
OPTION = re.compile(r"(?<![\w/=-])--[a-z][a-z0-9-]*")
OTHER_TOOLS = re.compile(
    r"\b(aws|kubectl|helm|eksctl|apiclient|ctr|openssl|docker|podman|buildah|npm|pip|k6|"
    r"kube-controller-manager|vLLM|vllm|python -m gateway)\b"
)
TUBEDEMO_COMMAND = re.compile(r"tubedemo ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)")


def commands() -> dict[tuple[str, ...], set[str]]:
    """Every command path (("session", "export"), ...) and the options it takes."""
    _register()

    def walk(cmd: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], set[str]]]:
        yield path, {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}
        if hasattr(cmd, "commands"):  # Typer ships its own Click: a group has subcommands
            for name, sub in cmd.commands.items():
                yield from walk(sub, (*path, name))

    return dict(walk(typer.main.get_command(app), ()))


def command_callbacks() -> dict[tuple[str, ...], Any]:
    """Every command path and the function behind it (None for a group)."""
    _register()

    def walk(cmd: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
        yield path, None if hasattr(cmd, "commands") else cmd.callback
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, (*path, name))

    return dict(walk(typer.main.get_command(app), ()))


EXTERNAL = {
    # other tools' options in messages built from pieces (the tool is named in another piece)
    "--create-bucket-configuration",  # aws s3api create-bucket (aws/account.py)
    "--user",  # aws eks create-access-entry (prepare/plan.py)
    "--load-format",  # vLLM's, in the twin's start-up breakdown
    "--cudagraph-capture-sizes",  # vLLM's, likewise
}


def mentions(text: str) -> Iterator[tuple[tuple[str, ...] | None, str]]:
    """(the tubedemo command it is given to, or None: the command printing it; option) for each
    option a message names as tubedemo's: not inside `backticks` of another tool."""
    for part in re.split(r"(`[^`]*`)", text):
        if part.startswith("`"):
            command = TUBEDEMO_COMMAND.match(part[1:])
            if command is None:
                continue  # another tool's command line
            for option in OPTION.findall(part):
                yield tuple(command.group(1).split()), option
        else:
            for option in OPTION.findall(part):
                yield None, option


def options_of(text: str) -> list[str]:
    return [option for _, option in mentions(text)]


# -- the real hints of the commands that talk to the gateway ------------------------------

GATEWAY_COMMANDS = [
    ("mode", "survey"),
    ("winners",),
    ("session", "list"),
    ("session", "new"),
    ("session", "export"),
    ("qr",),
    ("status",),
    ("load", "--vus", "1", "--duration", "1s"),
    ("show",),
]


def command_path(argv: tuple[str, ...], known: dict[tuple[str, ...], set[str]]) -> tuple[str, ...]:
    words = tuple(a for a in argv if not a.startswith("-"))
    return max((p for p in known if words[: len(p)] == p), key=len)


@pytest.fixture(scope="module")
def closed_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        yield s.getsockname()[1]


@pytest.mark.parametrize("how", ["no gateway anywhere", "--gateway-url with nothing there"])
@pytest.mark.parametrize("argv", GATEWAY_COMMANDS, ids=" ".join)
def test_the_hint_a_gateway_command_fails_with_names_its_own_options(
    argv: tuple[str, ...], how: str, tmp_path: Path, closed_port: int
) -> None:
    known = commands()
    extra = ("--gateway-url", f"http://127.0.0.1:{closed_port}") if how.startswith("--") else ()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBEDEMO_")}
    env["KUBECONFIG"] = str(tmp_path / "no-kubeconfig")  # no cluster: only the hints remain
    done = subprocess.run(
        [sys.executable, "-m", "tubedemo", *argv, *extra],
        cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
        env=env, check=False,
    )  # fmt: skip
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    path = command_path(argv, known)
    named = options_of(done.stderr)
    assert named, f"`tubedemo {' '.join(argv)}` failed without a hint: {done.stderr}"
    missing = [o for o in named if o not in known[path]]
    assert not missing, f"`tubedemo {' '.join(path)}` has no {missing}: {done.stderr}"
    if extra:  # the flag just passed is not what to pass next
        assert "or pass --gateway-url" not in done.stderr, done.stderr


# -- every message in the source ---------------------------------------------------------


def texts(root: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, text) of every string under ``root`` that is not a docstring, an option's own
    help, or one argument of a command line (a child's argv: no space); an f-string is one
    text, its values written {}."""
    skip: set[int] = set()
    for node in ast.walk(root):
        if isinstance(node, ast.Expr):
            skip.add(id(node.value))  # a docstring, or an attribute's
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name in ("Option", "Argument", "add_argument"):
                skip.update(id(sub) for sub in ast.walk(node))
        if isinstance(node, ast.JoinedStr):
            skip.update(id(v) for v in node.values)
    for node in ast.walk(root):
        if id(node) in skip:
            continue
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        if " " in text.strip():
            yield node.lineno, text


def messages() -> Iterator[tuple[str, int, str]]:
    """(file, line, text) of every message in tubedemo (``texts``)."""
    for path in sorted((ROOT / "tubedemo").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for line, text in texts(tree):
            yield str(path.relative_to(ROOT)), line, text


def its_own(option: str, text: str) -> bool:
    """Whether a bare option in a message is tubedemo's (not another tool's, named before it)."""
    return option not in EXTERNAL and not OTHER_TOOLS.search(text[: text.find(option)])


NOT_ITS_OWN = {
    (("images", "push"), "--set"),  # "use the --set lines above": the lines push printed
}


def test_a_command_s_own_messages_name_its_own_options() -> None:
    # what a command's function says itself ("refusing ... without --yes") is about that command
    known = commands()
    wrong = []
    for path, options in known.items():
        callback = command_callbacks()[path]
        if callback is None:
            continue
        source = Path(sys.modules[callback.__module__].__file__ or "")
        tree = ast.parse(source.read_text(encoding="utf-8"))
        (function,) = [
            n for n in tree.body
            if isinstance(n, ast.FunctionDef) and n.name == callback.__name__
        ]  # fmt: skip
        for line, text in texts(function):
            for words, option in mentions(text):
                if (path, option) in NOT_ITS_OWN or words is not None:
                    continue
                if its_own(option, text) and option not in options:
                    wrong.append(f"{source.name}:{line}: tubedemo {' '.join(path)}: {option}")
    assert not wrong, "\n".join(wrong)


def test_every_option_a_message_names_exists_where_it_says() -> None:
    known = commands()
    anywhere = set().union(*known.values())
    wrong = []
    for where, line, text in messages():
        for words, option in mentions(text):
            if option in EXTERNAL:
                continue
            if words is not None:
                path = max((p for p in known if words[: len(p)] == p), key=len, default=())
                if option not in known[path]:
                    wrong.append(f"{where}:{line}: tubedemo {' '.join(path)} has no {option}")
            elif option not in anywhere and its_own(option, text):
                wrong.append(f"{where}:{line}: no command takes {option}: {text[:80]!r}")
    assert not wrong, "\n".join(wrong)
