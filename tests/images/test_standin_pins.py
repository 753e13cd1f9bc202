"""images/standin-requirements.txt (installed with --no-deps into the stand-in image) pins every
distribution the stand-in imports at run time, transitively; checked offline from the metadata
of the installed packages and from what `python -m tubedemo.rehearsal.standin` really imports."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.utils import canonicalize_name

from tests.pins import closure, not_as_installed, read_pins

REPO = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO / "images" / "standin-requirements.txt"
OPTIONAL = {"watchfiles", "setuptools"}
"""Loaded only because they are in this venv: uvicorn imports watchfiles when present (reload
support), and setuptools' _distutils_hack comes from a site .pth file, not from our imports."""


def imported_distributions() -> set[str]:
    """Distributions whose top-level modules the stand-in has loaded once it is imported."""
    probe = "import sys, tubedemo.rehearsal.standin; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout.split()
    owners = packages_distributions()
    found = set()
    for module in {m.split(".")[0] for m in out}:
        for dist in owners.get(module, []):
            if canonicalize_name(dist) != "tubedemo":
                found.add(canonicalize_name(dist))
    return found - OPTIONAL


def test_every_distribution_the_standin_imports_is_pinned_for_its_image() -> None:
    needed = closure(imported_distributions())
    missing = sorted(needed - set(read_pins(REQUIREMENTS)))
    assert not missing, f"add to images/standin-requirements.txt: {missing}"


def test_the_pins_are_the_versions_the_suite_runs_with() -> None:
    assert not_as_installed(REQUIREMENTS) == []
