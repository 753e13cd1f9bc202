"""Keeping a lab up: in the foreground until it is told to stop or a component dies, or in the
background as a `tubedemo lab up` of its own (`lab up --detach`).

In the foreground, SIGTERM (`lab down` from another shell) and SIGHUP (a closed terminal) take
the Ctrl-C path: the lab stops in order, then the command returns. A component that exits on
its own stops the whole lab with one line naming it and its log.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tubedemo.core.errors import ExternalToolError
from tubedemo.core.processes import Child, wait_ready
from tubedemo.core.signals import term_and_hangup_as_interrupt
from tubedemo.lab import state_file
from tubedemo.lab.stack import Lab, LabError

POLL = 0.5
"""Seconds between two looks at the components while the lab runs."""
DETACHED_START = 600.0
"""Seconds a detached `lab up` may take to say it is ready (its own start-up gives up after
LabOptions.timeout, 180 s, and then exits; this only bounds a hang)."""


def run_in_foreground(
    lab: Lab, report: Callable[[str], None], on_ready: Callable[[dict[str, Any]], None]
) -> None:
    """Start ``lab`` (``report`` says each step), call ``on_ready`` with its state, and keep it
    until Ctrl-C, SIGTERM or SIGHUP (then return) or until a component exits (LabError); the
    lab is stopped either way."""
    # a hang-up first silences the dead terminal, so the stop completes
    with term_and_hangup_as_interrupt():
        try:
            lab.start(progress=lambda what: report(f"starting {what} ..."))
            on_ready(state_file.status(lab.workdir) or lab.state(ready=True))
            sys.stdout.flush()
            while (gone := lab.first_exited()) is None:
                time.sleep(POLL)
            _, comp = gone
            raise LabError(f"{comp.exited('while the lab ran').message}; the lab is stopped")
        except KeyboardInterrupt:
            report("stopping the lab ...")
        finally:
            lab.stop()


def detach(home: Path, lab_up_args: Sequence[str]) -> tuple[int, Path, dict[str, Any]]:
    """Run `tubedemo lab up --dir home *lab_up_args` in its own session (it outlives this
    process: no death signal) and wait until its state file says ready. Returns its pid, its
    log and that state; LabError (its last log line, the log's path) if it dies first."""
    home.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "tubedemo", "lab", "up", "--dir", str(home), *lab_up_args]
    log = home / "lab-up.log"
    owner = Child("lab up", argv, log, env={"COLUMNS": "120"}, death_signal=None).start()
    assert owner.pid is not None

    def ready() -> bool:
        recorded = state_file.read_state(home) or {}
        return bool(recorded.get("ready")) and recorded.get("owner") == owner.pid

    try:
        wait_ready(ready, what="the lab", children=[owner], timeout=DETACHED_START, interval=0.3)
    except ExternalToolError as exc:
        owner.stop(30.0)  # a hung start-up is not left behind (on TERM it stops its lab)
        raise LabError(f"the lab did not start: {exc.message}") from exc
    recorded = state_file.read_state(home)
    assert recorded is not None
    return owner.pid, log, recorded
