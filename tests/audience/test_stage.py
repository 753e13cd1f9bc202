"""The stage file: how the commands find a running rehearsal's gateway, and whose token goes
where."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tubedemo.audience.stage import STAGE_FILE, Stage, publish, running_rehearsal, withdraw
from tubedemo.commands.wiring import direct_target
from tubedemo.core.config import load_config

REHEARSAL = "http://127.0.0.1:8123"


def a_gone_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def stage(pid: int | None = None) -> Stage:
    return Stage(REHEARSAL, "s3cret", "http://192.0.2.7:8123", pid or os.getpid(), 20.0)


def test_the_stage_file_is_readable_by_its_owner_only_and_found_from_its_folder(
    folder: Path,
) -> None:
    path = publish(stage())
    assert path == folder / STAGE_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert running_rehearsal() == stage()


def test_a_rehearsal_whose_process_is_gone_is_ignored(folder: Path) -> None:
    publish(stage(a_gone_pid()))
    assert running_rehearsal() is None
    assert direct_target(load_config(None, []), None) is None


def test_a_rehearsal_removes_only_its_own_stage_file(folder: Path) -> None:
    path = publish(stage(os.getppid()))  # another rehearsal took the folder over
    withdraw(path, os.getpid())
    assert path.exists()
    withdraw(path, os.getppid())
    assert not path.exists()


def test_with_no_flag_the_running_rehearsal_is_the_target_with_its_token(folder: Path) -> None:
    publish(stage())
    target = direct_target(load_config(None, []), None)
    assert target is not None
    assert (target.url, target.token) == (REHEARSAL, "s3cret")
    assert "rehearsal" in target.source


def test_the_rehearsals_token_goes_to_its_own_url_only(folder: Path) -> None:
    publish(stage())
    cfg = load_config(None, [])
    elsewhere = direct_target(cfg, "http://203.0.113.9:8080")
    assert elsewhere is not None and elsewhere.token is None and not elsewhere.rehearsal
    own = direct_target(cfg, "http://192.0.2.7:8123/")  # its LAN address, as phones see it
    assert own is not None and own.token == "s3cret" and own.rehearsal
    explicit = direct_target(cfg, REHEARSAL, "mine")
    assert explicit is not None and explicit.token == "mine"


def test_a_running_rehearsal_comes_before_gateway_url_and_the_cluster(folder: Path) -> None:
    cfg = load_config(None, ["gateway.url=http://127.0.0.1:9999"])
    configured = direct_target(cfg, None)
    assert configured is not None and configured.url == "http://127.0.0.1:9999"
    assert configured.source == "gateway.url"
    publish(stage())
    rehearsal = direct_target(cfg, None)
    assert rehearsal is not None and rehearsal.url == REHEARSAL
    assert direct_target(load_config(None, []), None) is not None
