"""A lab seen from outside its owner: the state file (``<run folder>/state.json``) that the owner
keeps and that `lab status` and `lab down` read from another shell.

The file names the owner's pid, every component's pid, binary, ports and log, the kubeconfig
and whether the lab is ready. `down` signals the owner (which stops its components in order)
and, should the owner be gone, kills any component still recorded (checking the pid still runs
that binary, not a recycled pid), then checks that none of the ports is still open.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATE_FILE = "state.json"


def read_state(workdir: Path) -> dict[str, Any] | None:
    """The recorded state of the lab run from ``workdir``; None when there is none."""
    try:
        data: dict[str, Any] = json.loads((workdir / STATE_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return data


def write_state(workdir: Path, state: dict[str, Any]) -> None:
    """Replace the state file at once (a reader never sees half of it)."""
    path = workdir / STATE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(path)


def forget_state(workdir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (workdir / STATE_FILE).unlink()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie still answers kill(0): look at its state
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def runs_binary(pid: int, binary: str) -> bool:
    """True when ``pid`` is alive and executes ``binary`` (not a recycled pid)."""
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return False
    return pid_alive(pid) and Path(exe.removesuffix(" (deleted)")) == Path(binary)


def port_listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def rss_mib(pid: int) -> float | None:
    """Resident memory of ``pid`` (MiB) from /proc, or None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class DownReport:
    owner_stopped: bool = False
    killed: list[str] = field(default_factory=list)
    ports_busy: list[int] = field(default_factory=list)


def _wait_while(condition: Callable[[], bool], seconds: float) -> None:
    end = time.monotonic() + seconds
    while condition() and time.monotonic() < end:
        time.sleep(0.2)


def down(workdir: Path, timeout: float = 60.0) -> DownReport | None:
    """Stop the lab run from ``workdir``: TERM its owner (which stops the components in
    order), wait; then KILL any recorded component still running; report ports still open.
    None when no lab state is there."""
    state = read_state(workdir)
    if state is None:
        return None
    report = DownReport()
    owner = int(state["owner"])
    if owner != os.getpid() and pid_alive(owner):
        os.kill(owner, signal.SIGTERM)
        _wait_while(lambda: pid_alive(owner), timeout)
        if pid_alive(owner):
            os.kill(owner, signal.SIGKILL)
        report.owner_stopped = True
    components: dict[str, Any] = state.get("components", {})
    for name, comp in components.items():
        pid = comp.get("pid")
        if pid and runs_binary(int(pid), comp["binary"]):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(int(pid), signal.SIGKILL)
            report.killed.append(name)
    ports = [p for c in components.values() for p in c.get("ports", {}).values()]
    _wait_while(lambda: any(port_listening(p) for p in ports), 10)
    report.ports_busy = [p for p in ports if port_listening(p)]
    forget_state(workdir)
    return report


def status(workdir: Path) -> dict[str, Any] | None:
    """The recorded state with each component's liveness and memory; None when no lab state
    is there."""
    state = read_state(workdir)
    if state is None:
        return None
    state["owner_alive"] = pid_alive(int(state["owner"]))
    for comp in state.get("components", {}).values():
        comp["alive"] = bool(comp.get("pid")) and runs_binary(int(comp["pid"]), comp["binary"])
        comp["rss_mib"] = rss_mib(int(comp["pid"])) if comp["alive"] else None
    return state
