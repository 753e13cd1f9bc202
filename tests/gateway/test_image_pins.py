"""gateway/requirements.txt (what gateway/Dockerfile installs with --no-deps) must pin every
distribution the gateway needs at run time, transitively; checked offline against the metadata
of the installed packages, so a dependency that grows a new requirement fails here, not in
the image build."""

from __future__ import annotations

from pathlib import Path

from tests.pins import closure, not_as_installed, read_pins

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


def test_every_runtime_dependency_of_the_gateway_is_pinned_for_the_image() -> None:
    missing = sorted(closure(ROOTS) - set(read_pins(REQUIREMENTS)))
    assert not missing, f"add to gateway/requirements.txt: {missing}"


def test_the_pins_are_the_versions_the_suite_runs_with() -> None:
    assert not_as_installed(REQUIREMENTS) == []
