"""images/standin-requirements.txt (installed with --no-deps into the stand-in image) pins every
distribution the stand-in imports at run time, transitively; checked offline from the metadata
of the installed packages and from what `python -m tubedemo.rehearsal.standin` really imports."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, distribution, packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO / "images" / "standin-requirements.txt"
ENV = {
    "python_version": "3.11",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "os_name": "posix",
    "extra": "",
}
OPTIONAL = {"watchfiles", "setuptools"}
"""Loaded only because they are in this venv: uvicorn imports watchfiles when present (reload
support), and setuptools' _distutils_hack comes from a site .pth file, not from our imports."""


def pinned() -> dict[str, str]:
    pins = {}
    for line in REQUIREMENTS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.strip().split("==")
            pins[canonicalize_name(name)] = version
    return pins


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


def closure(roots: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = [Requirement(r) for r in roots]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = distribution(name).requires or []
        except PackageNotFoundError:
            continue
        for raw in requires:
            sub = Requirement(raw)
            if sub.marker is None or sub.marker.evaluate(ENV):
                todo.append(sub)
    return seen


def test_every_distribution_the_standin_imports_is_pinned_for_its_image() -> None:
    needed = closure(imported_distributions())
    missing = sorted(needed - set(pinned()))
    assert not missing, f"add to images/standin-requirements.txt: {missing}"


def test_the_pins_are_the_versions_the_suite_runs_with() -> None:
    for name, version in pinned().items():
        assert distribution(name).version == version, name
        assert re.fullmatch(r"[0-9][0-9a-z.]*", version), version
