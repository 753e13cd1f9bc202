"""The rehearsal's child processes that more than one caller starts: the fleet simulator's
command line (built here once, for ``rehearse`` and for the lab session) and its start-up
(spawn, read the port it announces, wait until it answers). Every process goes through the
process seam (``tubedemo.core.processes``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from tubedemo.core.processes import Child, wait_ready

READY_TIMEOUT = 60.0
"""Seconds a child may take to answer before the rehearsal gives up (cold imports on a laptop)."""


def fleet_argv(
    *,
    speed: float,
    config: Path | None = None,
    overrides: Sequence[str] = (),
    audience: bool = False,
    k6_model: bool = False,
    kubeconfig: Path | None = None,
    namespace: str | None = None,
) -> list[str]:
    """``python -m tubedemo.rehearsal.server`` on a free port (it announces ``PORT <n>``).

    ``kubeconfig`` (the lab): one engine per Ready pod of the vLLM Deployment in ``namespace``
    instead of the twin's own autoscaler. ``k6_model``: the timeline's k6 load simulated inside
    the fleet (no k6 process). Pure.
    """
    argv = [
        sys.executable,
        "-m",
        "tubedemo.rehearsal.server",
        "--port",
        "0",
        "--speed",
        f"{speed:g}",
    ]
    if config is not None:
        argv += ["--config", str(config)]
    for item in overrides:
        argv += ["--set", item]
    if kubeconfig is not None:
        argv += ["--kubeconfig", str(kubeconfig)]
    if namespace is not None:
        argv += ["--namespace", namespace]
    return [*argv, *(["--audience"] if audience else []), *(["--k6-model"] if k6_model else [])]


def start_fleet(argv: list[str], log: Path) -> tuple[Child, str]:
    """Start the fleet simulator; (the running child, its base URL) once it answers /health.
    One-line ExternalToolError (its last log line, the log's path) if it dies or hangs."""
    fleet = Child("fleet simulator", argv, log, announce=True).start()
    try:
        port = int(fleet.read_line("PORT ", READY_TIMEOUT).split()[1])
        url = f"http://127.0.0.1:{port}"
        wait_ready(f"{url}/health", what="fleet simulator", children=[fleet], timeout=READY_TIMEOUT)
    except BaseException:
        fleet.stop()
        raise
    return fleet, url
