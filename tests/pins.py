"""Pinned requirement files of our images, checked against the installed packages' metadata.

An image installs its requirements file with ``--no-deps``, so the file must pin every
distribution needed at run time, transitively. These helpers read the pins and walk the
dependency closure offline (importlib.metadata), for linux/x86_64 CPython 3.11 — the images.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

IMAGE_MARKERS = {
    "python_version": "3.11",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "os_name": "posix",
}
"""The environment markers of the images' Python (python:3.11 on linux/amd64)."""


def read_pins(requirements: Path) -> dict[str, str]:
    """name → version of every ``name==version`` line (comments and blanks skipped)."""
    pins = {}
    for line in requirements.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.strip().split("==")
            pins[canonicalize_name(name)] = version
    return pins


def closure(roots: Iterable[str]) -> set[str]:
    """Every distribution the roots need on the image, extras followed; a distribution not
    installed here ends its branch (the pin check then names it as missing)."""
    seen: set[str] = set()
    todo = [Requirement(r) for r in roots]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen and not req.extras:
            continue
        seen.add(name)
        try:
            requires = distribution(name).requires or []
        except PackageNotFoundError:
            continue
        for raw in requires:
            sub = Requirement(raw)
            if sub.marker is None or any(
                sub.marker.evaluate({**IMAGE_MARKERS, "extra": extra})
                for extra in (req.extras or {""})
            ):
                todo.append(sub)
    return seen


def not_as_installed(requirements: Path) -> list[str]:
    """The pins of ``requirements`` that are not exactly what this venv has installed (`make
    install` takes them as constraints), or not a plain release number; one line each."""
    wrong = []
    for name, version in read_pins(requirements).items():
        try:
            installed = distribution(name).version
        except PackageNotFoundError:
            installed = "nothing"
        if installed != version or not re.fullmatch(r"[0-9][0-9a-z.]*", version):
            wrong.append(f"{name}: pinned {version}, installed {installed}")
    return wrong
