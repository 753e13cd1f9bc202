"""`python -m benchmarks [NAME ...] [--quick] [--write docs/benchmarks.md]`.

Runs benchmarks/bench_*.py (all, or the named ones), prints a Markdown table per module, and
exits 1 when a row misses its target.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import platform
import re
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import benchmarks
from benchmarks import Row


def discover() -> list[str]:
    return sorted(
        m.name[len("bench_") :]
        for m in pkgutil.iter_modules(benchmarks.__path__)
        if m.name.startswith("bench_")
    )


def table(rows: list[Row]) -> str:
    lines = ["| metric | value | target | met | note |", "|---|---|---|---|---|"]
    for r in rows:
        met = {True: "yes", False: "**no**", None: ""}[r.ok]
        lines.append(f"| {r.metric} | {r.value} | {r.target} | {met} | {r.note} |")
    return "\n".join(lines)


def write_section(path: Path, name: str, body: str) -> None:
    start, end = f"<!-- bench:{name} start -->", f"<!-- bench:{name} end -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{start}\n{body}\n{end}"
    if start in text:
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"subset of {discover()}")
    parser.add_argument("--quick", action="store_true", help="smaller loads (smoke run)")
    parser.add_argument("--write", type=Path, help="update this Markdown file's sections")
    args = parser.parse_args()
    names = args.names or discover()
    unknown = sorted(set(names) - set(discover()))
    if unknown:
        print(f"benchmarks: no such benchmark {unknown}; have {discover()}", file=sys.stderr)
        return 2
    missed = False
    command = "python -m benchmarks " + shlex.join(sys.argv[1:])
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        started = time.monotonic()
        rows: list[Row] = module.run(quick=args.quick)
        took = time.monotonic() - started
        missed |= any(r.ok is False for r in rows)
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        header = (
            f"## {module.TITLE}\n\nCommand: `nox -s bench -- {name}` (runs `{command}`), "
            f"{when}, {took:.0f} s, Python {platform.python_version()}, "
            f"{platform.machine()}, {_cpus()} CPUs shared with other work.\n"
        )
        body = header + "\n" + table(rows) + "\n" + getattr(module, "NOTES", "")
        print(body)
        if args.write:
            write_section(args.write, name, body)
    return 1 if missed else 0


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    sys.exit(main())
