"""Commands import only what they use: help needs no config models, HTTP, schemas or cluster.

The start-up time itself is a benchmark (`nox -s bench -- cli_startup`); this checks the cause.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "tubedemo.core.config",  # the pydantic config models
    "tubedemo.audience.gateway_client",
    "tubedemo.manifests.render",
    "tubedemo.screen.dashboard",
    "httpx",
    "jsonschema",
    "jinja2",
    "yaml",
    "kubernetes",
    "pydantic",  # Typer 0.29+ imports it for every --help: the pin in pyproject says why 0.28
    "rich",  # ~60 ms; help is Click's formatter and our consoles are lazy_console(...)
)

PROBE = """
import contextlib, io, json, sys
from tubedemo.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "help": out.getvalue(), "modules": sorted(sys.modules)}))
"""


@pytest.mark.parametrize(
    "argv", [["--help"], ["mode", "--help"], ["watch", "--help"], ["simulate", "--help"]]
)
def test_help_imports_no_heavy_module(argv: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={"COLUMNS": "120", "PATH": "/usr/bin:/bin"},
    )
    report = json.loads(done.stdout)
    assert report["code"] == 0 and "Usage" in report["help"]
    loaded = set(report["modules"])
    assert [m for m in HEAVY if m in loaded] == []
