"""The import contracts (pyproject [tool.importlinter]) hold, and break on a wrong import."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the packages and the contracts, to break without touching the checkout."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "_bundled")
    for package in ("tubedemo", "gateway"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_checkout_keeps_every_contract() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "wrong_import", "contract", "culprit"),
    [
        # core is the bottom layer: reaching up to the edge breaks the layers.
        (
            "tubedemo/core/durations.py",
            "import tubedemo.commands.options",
            "tubedemo layers",
            "tubedemo.core.durations -> tubedemo.commands.options",
        ),
        # siblings in one layer are independent: audience may not use the screen.
        (
            "tubedemo/audience/qr.py",
            "import tubedemo.screen.dashboard",
            "tubedemo layers",
            "tubedemo.audience.qr -> tubedemo.screen.dashboard",
        ),
        (
            "tubedemo/screen/report/plots.py",
            "import kubernetes.client",
            "only tubedemo.cluster imports kubernetes",
            "tubedemo.screen.report.plots -> kubernetes",
        ),
        # boto3 is called through tubedemo.aws's door only, even by the image code next door.
        (
            "tubedemo/images/tool.py",
            "import botocore.exceptions",
            "only tubedemo.aws imports boto3 and botocore",
            "tubedemo.images.tool -> botocore",
        ),
        # the door sits low: AWS code may not reach up into what calls it.
        (
            "tubedemo/aws/session.py",
            "import tubedemo.prepare.lookup",
            "tubedemo layers",
            "tubedemo.aws.session -> tubedemo.prepare.lookup",
        ),
        (
            "gateway/state.py",
            "import tubedemo.core.errors",
            "gateway imports nothing from tubedemo",
            "gateway.state -> tubedemo.core.errors",
        ),
        (
            "tubedemo/twin/world.py",
            "import time",
            "the twin is pure",
            "tubedemo.twin.world -> time",
        ),
        # children start through the process seam, k6's and the image tool's included
        (
            "tubedemo/talk/k6.py",
            "import subprocess",
            "only the process seam",
            "tubedemo.talk.k6 -> subprocess",
        ),
    ],
)
def test_a_wrong_import_breaks_its_contract_by_name(
    tree: Path, module: str, wrong_import: str, contract: str, culprit: str
) -> None:
    path = tree / module
    path.write_text(path.read_text() + f"\n{wrong_import}  # deliberately wrong\n")
    done = lint_imports(tree)
    assert done.returncode != 0
    # "BROKEN", or "BROKEN (1 ignored import)" for a contract with a deliberate exception
    broken = [line for line in done.stdout.splitlines() if " BROKEN" in line]
    assert len(broken) == 1 and broken[0].startswith(contract), done.stdout
    assert culprit in done.stdout


def test_every_tubedemo_package_has_its_place_in_the_layers() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["id"] == "layers")["layers"]
    placed = {name.strip() for layer in layers for name in layer.split("|")}
    packages = {f"tubedemo.{p.parent.name}" for p in (ROOT / "tubedemo").glob("*/__init__.py")} | {
        "tubedemo.cli"
    }
    assert packages - placed == set(), "a new package needs its layer in pyproject.toml"
