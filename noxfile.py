"""Developer sessions: tests, lint, typecheck, golden, bench.

Sessions reuse their virtualenvs so a second run only re-runs the work, not the installs.
"""

from __future__ import annotations

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


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole test suite, integration tests included (they need the prepared caches)."""
    _install(session)
    _prepare(session)
    session.run("pytest", *session.posargs)


@nox.session(python=False)
def controlplane(session: nox.Session) -> None:
    """Build (or reuse) the pinned Kubernetes control plane the integration tests run against."""
    session.run("python3", "scripts/build-controlplane", *session.posargs, external=True)


IMPORT_LINTER = "import-linter==2.17"
"""Same pin as pyproject's dev extra (the newest release when pinned)."""


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check + format check + the import contracts (lint-imports, pyproject.toml)."""
    session.install("ruff>=0.8,<1", IMPORT_LINTER)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    # Reads the source statically; the repo root (cwd) is where it finds tubedemo and gateway.
    session.run("lint-imports", "--no-cache")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on tubedemo/."""
    _install(session)
    session.run("mypy")


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
