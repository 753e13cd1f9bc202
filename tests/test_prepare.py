"""scripts/prepare-tests: one list of idempotent steps, and what a test does without them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "prepare-tests"


def _prepare(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_list_names_every_step_with_its_state() -> None:
    result = _prepare("--list")
    assert result.returncode == 0, result.stderr
    states = dict(line.split() for line in result.stdout.splitlines())
    assert {"chromium", "iproute2", "container-tools", "control-plane", "crds", "web-page"} <= set(
        states
    )
    assert set(states.values()) <= {"present", "missing"}


def test_a_present_step_prints_one_line_and_does_nothing() -> None:
    result = _prepare("iproute2")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[prepare] iproute2: present\n"


def test_an_unknown_step_is_a_usage_error_naming_the_steps() -> None:
    result = _prepare("no-such-step")
    assert result.returncode == 2
    assert "unknown step no-such-step" in result.stderr and "control-plane" in result.stderr


def _control_plane_test(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    # A control-plane cache folder with nothing built in it stands for a fresh machine.
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", "TUBEDEMO_REQUIRE_PREPARED")}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-k",
            "field_manager",
            "tests/kube/test_control_plane.py",
        ],
        cwd=REPO,
        env={**clean, "TUBEDEMO_CONTROLPLANE_DIR": str(tmp_path / "empty"), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_missing_control_plane_skips_outside_make_test(tmp_path: Path) -> None:
    result = _control_plane_test(tmp_path)
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout
    assert "control plane not built: run scripts/prepare-tests control-plane" in result.stdout


def test_missing_control_plane_fails_under_make_test(tmp_path: Path) -> None:
    result = _control_plane_test(tmp_path, TUBEDEMO_REQUIRE_PREPARED="1")
    assert result.returncode == 1, result.stdout
    assert "1 error" in result.stdout and "skipped" not in result.stdout
    assert "make test prepares it" in result.stdout
