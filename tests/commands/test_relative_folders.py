"""Every offline command that writes into a folder, as a presenter runs it: from a fresh working
folder, with relative paths (nested, not made yet) and with its defaults.

The commands that need a gateway or a lab have theirs beside their fixtures: ``rehearse``
(tests/rehearsal/test_rehearse.py), ``show --record`` and ``load --out``
(tests/talk/test_show_k6.py), ``qr --png`` and ``session export --csv`` (tests/audience),
``rehearse --lab``, ``lab compare`` and ``lab up|status|down --dir`` (tests/lab).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.vllm_exporter import FakeEngine
from tubedemo.telemetry.recording import read_recording


def tubedemo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBEDEMO_")}
    env.update(COLUMNS="120", KUBECONFIG="/nonexistent")
    return subprocess.run(
        [sys.executable, "-m", "tubedemo", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.fixture
def talk(tmp_path: Path) -> Path:
    """A fresh working folder holding nothing but what `tubedemo init` writes."""
    folder = tmp_path / "talk"
    folder.mkdir()
    done = tubedemo("init", cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder


def test_init_writes_its_file_into_a_relative_folder_it_makes(tmp_path: Path) -> None:
    done = tubedemo("init", "talks/berlin/demo.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "talks" / "berlin" / "demo.yaml").read_text().startswith("#")
    again = tubedemo("render", "-c", "talks/berlin/demo.yaml", "-o", "-", cwd=tmp_path)
    assert again.returncode == 0, again.stderr


def test_render_writes_into_a_relative_folder_it_makes(talk: Path) -> None:
    done = tubedemo("render", "-o", "out/manifests", cwd=talk)
    assert done.returncode == 0, done.stderr
    assert any((talk / "out" / "manifests").glob("*scaledobject*.yaml"))


def test_simulate_records_and_draws_into_relative_folders_it_makes(talk: Path) -> None:
    done = tubedemo("simulate", "--record", "out/sim/run.jsonl", "-o", "out/sim/charts", cwd=talk)
    assert done.returncode == 0, done.stderr
    assert len(read_recording(talk / "out" / "sim" / "run.jsonl").snapshots) > 10
    assert (talk / "out" / "sim" / "charts" / "report.html").is_file()


def test_report_reads_a_relative_recording_and_writes_to_its_default_and_a_relative_folder(
    talk: Path,
) -> None:
    assert tubedemo("simulate", "--record", "run.jsonl", cwd=talk).returncode == 0
    default = tubedemo("report", "run.jsonl", cwd=talk)
    assert default.returncode == 0, default.stderr
    assert (talk / "report" / "report.html").is_file()
    nested = tubedemo("report", "run.jsonl", "-o", "out/blog/charts", cwd=talk)
    assert nested.returncode == 0, nested.stderr
    assert (talk / "out" / "blog" / "charts" / "report.html").is_file()


@pytest.fixture
def engine() -> Iterator[FakeEngine]:
    e = FakeEngine()
    yield e
    e.close()


def test_watch_records_into_a_relative_folder_it_makes_and_replays_from_there(
    talk: Path, engine: FakeEngine
) -> None:
    engine.set(waiting=3)
    done = tubedemo(
        "watch", "--no-kube", "--vllm-url", engine.url, "--gateway-url", "http://127.0.0.1:9",
        "--set", "dashboard.tick=0.2", "--frames", "3", "--record", "out/watch/talk.jsonl",
        cwd=talk,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(read_recording(talk / "out" / "watch" / "talk.jsonl").snapshots) == 3
    replay = tubedemo("watch", "--replay", "out/watch/talk.jsonl", "--speed", "50", cwd=talk)
    assert replay.returncode == 0, replay.stderr
    assert "replayed 3 snapshots" in replay.stderr


def test_lab_status_and_down_with_no_lab_in_a_relative_folder_say_so_and_succeed(
    tmp_path: Path,
) -> None:
    # Nothing runs there: a fact to report, not a failure (exit 1 is a declined prompt's).
    for command in ("status", "down"):
        done = tubedemo("lab", command, "--dir", "lab", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert f"no lab running from {tmp_path / 'lab'}" in done.stdout
