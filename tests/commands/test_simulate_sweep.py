"""`simulate --sweep` as a presenter reads it: the README's example compares variants that differ,
a sweep that changes nothing the twin models says so, and a wide sweep is never cut off."""

from __future__ import annotations

import io
import re
import shlex
import subprocess
from pathlib import Path

from rich.console import Console

from tests import cli
from tubedemo.commands.twin import _print_figures, column_groups
from tubedemo.core.config import config_from_dict
from tubedemo.twin.simulate import simulate

README = Path(__file__).resolve().parents[2] / "README.md"

SHORT = [
    "--set", "talk.duration=6m", "--set", "twin.tail=1m", "--set", "model.max_num_seqs=8",
    "--set", "timeline.phases=[{name: burst, at: 0, duration: 240, vus: 12}]",
]  # fmt: skip


def tubedemo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return cli.tubedemo(*args, cwd=cwd, timeout=300)


def test_the_readmes_sweep_example_compares_variants_that_differ(tmp_path: Path) -> None:
    # The commands table's example, as written (scaling.multiplier=10,25,50 gave three identical
    # columns: the multiplier only sets the dashboard's virtual commuters, not the formula).
    (row,) = [
        ln for ln in README.read_text().splitlines() if ln.startswith("| `tubedemo simulate` |")
    ]
    example = row.rstrip(" |").rsplit("| `", 1)[1].rstrip("`")
    assert example.startswith("tubedemo simulate --sweep ")
    args = shlex.split(example)[1:]
    done = tubedemo(*args, *SHORT, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "same figures" not in done.stdout
    rows = [line for line in done.stdout.splitlines() if "max replicas desired" in line]
    (cells,) = [re.findall(r"\d+", row) for row in rows]
    assert len(cells) >= 3 and len(set(cells)) > 1, rows


def test_a_sweep_the_twin_cannot_see_says_its_variants_are_the_same(tmp_path: Path) -> None:
    done = tubedemo("simulate", "--sweep", "scaling.multiplier=10,25", *SHORT, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "note: every variant gave the same figures" in done.stdout
    assert "scaling.multiplier" in done.stdout


def test_a_wide_sweep_into_a_pipe_is_one_table_nothing_cut(tmp_path: Path) -> None:
    # 16 variants do not fit 80 columns, the width Rich gives a pipe: the table is printed as
    # wide as its columns (a file has no width), every variant and figure whole.
    done = tubedemo(
        "simulate", "--sweep", "model.max_num_seqs=8,16,32,48", "--sweep",
        "scaling.target=6,8,10,12", *SHORT, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # the figures' table: from its header on (the start-up table, titled with the first
    # variant, is printed before it)
    first = next(i for i, line in enumerate(lines) if line.count("max_num_seqs=") > 1)
    table = [line for line in lines[first:] if line[:1] in "┃│┏┡├└"]
    header = table[0]
    assert header.count("max_num_seqs=") == 16 and "max_num_seqs=48, target=12 ┃" in header
    rows = [line for line in table if line.startswith("│")]
    assert rows and all(line.endswith("│") and line.count("│") == 18 for line in rows)


def test_the_startup_table_into_a_pipe_is_printed_whole(tmp_path: Path) -> None:
    # a pipe has no width: Rich's 80 columns squeezed each source to a word per line
    done = tubedemo("simulate", *SHORT, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("start-up of a new replica"))
    rows = [line for line in lines[start:] if line.startswith("│")]
    steps = [line.split("│")[1].strip() for line in rows]
    assert "" not in steps, "a step's row was wrapped onto a second line"
    assert any(len(line) > 80 for line in rows)


def test_a_wide_sweep_on_a_narrow_terminal_is_split_into_tables_that_fit() -> None:
    short = {
        "talk": {"duration": "4m"},
        "timeline": {"phases": [{"name": "burst", "at": 0, "duration": 180, "vus": 12}]},
        "twin": {"tail": "0s", "audience": {"size": 0}},
    }
    results = []
    for target in (6, 8, 10, 12, 14):
        cfg = config_from_dict({**short, "scaling": {"target": target}})
        results.append((f"scaling.target={target}", cfg, simulate(cfg, label="x")))
    out = io.StringIO()
    terminal = Console(file=out, width=80, force_terminal=True, color_system=None)
    _print_figures(results, 0.0, terminal)
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80
    titles = [line.strip() for line in lines if "tubedemo simulate (variants" in line]
    assert len(titles) >= 2 and titles[-1].endswith("of 5)")
    assert all(f"scaling.target={t}" in out.getvalue() for t in (6, 8, 10, 12, 14))


def test_column_groups_fill_the_width_and_keep_one_column_that_cannot_fit() -> None:
    # figures' column 10 wide costs 14 with its borders; each variant its width + 3
    assert column_groups([10, 10, 10], first=10, room=40) == [range(0, 2), range(2, 3)]
    assert column_groups([10, 10, 10], first=10, room=1000) == [range(0, 3)]
    assert column_groups([100, 5], first=10, room=40) == [range(0, 1), range(1, 2)]
