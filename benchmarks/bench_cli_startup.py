"""CLI start-up: `tubedemo --help` and `tubedemo mode --help` beside `python -c pass`.

Each command is started N times as a fresh process, interleaved round-robin with the others so
a burst of load on the shared machine hits all three alike; the figure is the median wall time.
The target (≤ 0.3 s median for both help commands) is issue #12's: `kubectl --help` takes
0.08 s on the same machine. `python -c pass` in the same run is the floor any Python CLI pays.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import Row

TITLE = "CLI start-up: help commands against a bare interpreter"

TARGET_S = 0.3

NOTES = """
Workload: each command run as a new process (stdout discarded, COLUMNS=100), round-robin,
N times; median and min wall time per command. `tubedemo` is the console script of the
environment running the benchmark. What remains above `python -c pass` is mostly Typer's own
start-up (its command tree built from the functions' signatures). Typer is pinned to 0.28 (0.29
builds a pydantic TypeAdapter per parameter of the helped command) and help is Click's plain
formatter (Typer's Rich help imports markdown-it and rich.traceback); Rich itself is imported
only when something is printed (`commands/options.lazy_console`). tubedemo's command modules
import their heavy dependencies (config models, jsonschema, httpx, Jinja, the gateway client,
kubernetes) only inside the commands, which
`tests/commands/test_cli_startup.py` checks. Under heavy load the absolute figures scale with
the machine's load average: compare with the `python -c pass` row of the same run.
"""


def _tubedemo() -> list[str]:
    script = Path(sys.executable).with_name("tubedemo")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tubedemo"]


def _time(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
    return time.perf_counter() - started


def run(quick: bool) -> list[Row]:
    runs = 5 if quick else 21
    env = {**os.environ, "COLUMNS": "100"}
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "tubedemo --help": [*_tubedemo(), "--help"],
        "tubedemo mode --help": [*_tubedemo(), "mode", "--help"],
    }
    for argv in commands.values():  # warm the OS file cache and the .pyc files once
        _time(argv, env)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            times[name].append(_time(argv, env))
    floor = statistics.median(times["python -c pass"])
    rows = []
    for name, samples in times.items():
        median = statistics.median(samples)
        target = name != "python -c pass"
        rows.append(
            Row(
                f"{name} (median of {runs})",
                f"{median:.3f} s",
                f"≤ {TARGET_S} s" if target else "",
                (median <= TARGET_S) if target else None,
                f"min {min(samples):.3f} s"
                + (f", {median / floor:.1f}× python -c pass" if target else ""),
            )
        )
    rows.append(Row("load average (1 min) at the end", f"{os.getloadavg()[0]:.1f}"))
    return rows
