"""scripts/ runs on a fresh machine before the virtualenv exists: each command name starts
with the standard library alone, and the build scripts name the folders tubedemo.core.gobuild
(the lab's view) names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tubedemo.core import gobuild

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
COMMANDS = sorted(p.name for p in SCRIPTS.iterdir() if p.is_symlink())


def _bare(*args: str) -> subprocess.CompletedProcess[str]:
    # -S: no site-packages (what a fresh machine's python3 has); -I: no PYTHONPATH, no cwd.
    return subprocess.run(
        [sys.executable, "-I", "-S", *args], capture_output=True, text=True, timeout=60
    )


def test_every_command_name_is_a_python_module_ruff_and_mypy_see() -> None:
    assert COMMANDS == [
        "build-controlplane",
        "build-eks-tools",
        "build-image-base",
        "build-lab",
        "build-netpol",
        "build-otelcol",
        "build-vllm-env",
        "prepare-tests",
    ]
    for name in COMMANDS:
        assert (SCRIPTS / name).resolve() == SCRIPTS / f"{name.replace('-', '_')}.py"


@pytest.mark.parametrize("command", COMMANDS)
def test_the_command_starts_with_the_standard_library_alone(command: str) -> None:
    done = _bare(str(SCRIPTS / command), "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: ")


def test_the_build_scripts_print_the_folders_the_lab_looks_in() -> None:
    def printed(command: str, flag: str) -> Path:
        done = _bare(str(SCRIPTS / command), flag)
        assert done.returncode == 0, done.stderr
        return Path(done.stdout.strip())

    assert printed("build-controlplane", "--print-dir") == gobuild.CONTROL_PLANE.cache_dir()
    assert printed("build-lab", "--print-dir") == gobuild.LAB.cache_dir()
    assert printed("build-netpol", "--print-dir") == gobuild.NETPOL.cache_dir()
    assert printed("build-otelcol", "--print-path") == gobuild.OTELCOL.binary()
