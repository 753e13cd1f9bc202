"""scripts/prepare-tests: one list of idempotent steps, and what a test does without them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from scripts import prepare_tests as script

REPO = Path(__file__).resolve().parents[2]
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


def test_missing_steps_of_the_two_lanes_build_at_the_same_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The Go build can only finish while the download is running: one after the other, it
    # would time out waiting (and the download would find it never started).
    monkeypatch.setattr(script, "LOGS", tmp_path)
    go_started, download_done = threading.Event(), threading.Event()
    built: set[str] = set()

    def go_build(log: Path) -> None:
        go_started.set()
        if not download_done.wait(timeout=30):
            raise script.StepFailed("the download never ran beside the Go build")
        built.add("go")

    def download(log: Path) -> None:
        if not go_started.wait(timeout=30):
            raise script.StepFailed("the Go build never ran beside the download")
        download_done.set()
        built.add("download")

    steps = [
        script.Step("go build", "cold ~1 s", lambda: "go" in built, go_build, "cpu"),
        script.Step("download", "cold ~1 s", lambda: "download" in built, download, "io"),
        script.Step("apt", "cold ~1 s", lambda: True, download, "io"),
    ]
    assert script.prepare(steps) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "[prepare] apt: present"
    assert lines[1].startswith("[prepare] building in two lanes")
    assert "Go builds: go build (cold ~1 s)" in lines[1]
    assert sorted(re.sub(r"\d+ s$", "N s", line) for line in lines[2:]) == [
        "[prepare] download: done in N s",
        "[prepare] go build: done in N s",
    ]
    logged = (tmp_path / "prepare-times.log").read_text().splitlines()
    assert sorted(line.split()[1] for line in logged) == ["download", "go-build"]  # one each


def test_a_failing_step_names_itself_and_its_log_and_its_lane_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(script, "LOGS", tmp_path)
    ran: list[str] = []

    def fails(log: Path) -> None:
        script.run_logged(
            [sys.executable, "-c", "print('no space left'); raise SystemExit(3)"], log
        )

    def other(log: Path) -> None:
        ran.append(log.name)

    steps = [
        script.Step("otelcol", "cold ~1 s", lambda: False, fails, "cpu"),
        script.Step("control plane", "cold ~1 s", lambda: False, other, "cpu"),
        script.Step("web page", "cold ~1 s", lambda: bool(ran), other, "io"),
    ]
    assert script.prepare(steps) == 1
    out, err = capsys.readouterr()
    log = tmp_path / "prepare-otelcol.log"
    assert re.search(rf"^\[prepare\] otelcol: FAILED after \d+ s \(log {log}\)$", out, re.M)
    assert "[prepare] control plane: not started (otelcol failed)" in out.splitlines()
    assert err.startswith("prepare-tests: otelcol: `")
    assert "exited 3" in err and "no space left" in err
    assert "prepare-control-plane.log" not in ran
