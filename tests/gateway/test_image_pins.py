"""gateway/requirements.txt (what gateway/Dockerfile installs with --no-deps) must pin every
distribution the gateway needs at run time, transitively; checked offline against the metadata
of the installed packages, so a dependency that grows a new requirement fails here, not in
the image build."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REQUIREMENTS = Path(__file__).resolve().parents[2] / "gateway" / "requirements.txt"
# What gateway/ imports (uvicorn's standard extra brings uvloop and httptools).
ROOTS = [
    "fastapi",
    "uvicorn[standard]",
    "httpx",
    "aiohttp",
    "prometheus-client",
    "boto3",
    "pydantic",
]
ENV = {
    "python_version": "3.11",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "os_name": "posix",
}


def pinned() -> dict[str, str]:
    pins = {}
    for line in REQUIREMENTS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = re.split(r"==", line.strip())
            pins[canonicalize_name(name)] = version
    return pins


def closure() -> set[str]:
    seen: set[str] = set()
    todo = [Requirement(r) for r in ROOTS]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        extras = req.extras
        if name in seen and not extras:
            continue
        seen.add(name)
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue  # reported by the pin check below
        for raw in dist.requires or []:
            sub = Requirement(raw)
            marker_ok = sub.marker is None or any(
                sub.marker.evaluate({**ENV, "extra": e}) for e in (extras or {""})
            )
            if marker_ok:
                todo.append(sub)
    return seen


def test_every_runtime_dependency_of_the_gateway_is_pinned_for_the_image() -> None:
    missing = sorted(closure() - set(pinned()))
    assert not missing, f"add to gateway/requirements.txt: {missing}"
