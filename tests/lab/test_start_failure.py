"""A control plane component that dies at start is one line: which one, its last words, where
its log is (the logs stay in the run folder; they are not pasted on the screen), and nothing
it started is left running.

The components here are stand-ins named as such: tiny scripts in place of etcd and the API
server, because what is under test is our handling of a component that dies, not etcd."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import wait_until
from tubedemo.lab.controlplane import ControlPlane, ControlPlaneError
from tubedemo.lab.state_file import pid_alive

STAND_IN_ETCD = """#!/bin/sh
echo '{"level":"info","msg":"starting an etcd server"}'
echo '{"level":"fatal","msg":"listen tcp: bind: address already in use"}'
exit 1
"""


def _stand_ins(bindir: Path, etcd: str) -> None:
    bindir.mkdir()
    (bindir / "stamp.json").write_text(json.dumps({}))
    for name in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"):
        path = bindir / name
        path.write_text(etcd if name == "etcd" else "#!/bin/sh\nexec sleep 60\n")
        path.chmod(0o755)


def test_a_component_dying_at_start_is_one_line_with_its_last_words_and_its_log(
    tmp_path: Path,
) -> None:
    _stand_ins(tmp_path / "bin", STAND_IN_ETCD)
    plane = ControlPlane(workdir=tmp_path / "run", bindir=tmp_path / "bin", kwok_stages=[])
    with pytest.raises(ControlPlaneError) as failed:
        plane.start(timeout=30)
    log = tmp_path / "run" / "logs" / "etcd.log"
    assert failed.value.message == (
        "control plane failed to start: etcd exited (code 1) while waiting for etcd ready: "
        '{"level":"fatal","msg":"listen tcp: bind: address already in use"}; '
        f"see {log}"
    )
    assert "starting an etcd server" in log.read_text()  # the whole log is kept there


def test_a_component_that_never_gets_ready_times_out_in_one_line_and_is_stopped(
    tmp_path: Path,
) -> None:
    _stand_ins(tmp_path / "bin", "#!/bin/sh\necho waiting for a quorum\nexec sleep 60\n")
    plane = ControlPlane(workdir=tmp_path / "run", bindir=tmp_path / "bin", kwok_stages=[])
    with pytest.raises(ControlPlaneError) as failed:
        plane.start(timeout=1)
    log = tmp_path / "run" / "logs" / "etcd.log"
    assert failed.value.message == (
        f"control plane failed to start: etcd ready: not within the start-up deadline; see {log}"
    )
    etcd = plane.components["etcd"]
    assert etcd.pid is not None
    wait_until("the stand-in etcd to be stopped", lambda: not pid_alive(etcd.pid or 0), 10)
