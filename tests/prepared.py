"""What a test does when something `scripts/prepare-tests` builds is missing.

Outside `make test` (a developer running one file) it skips with one line naming the step to
run. Under `make test`, which sets TUBEDEMO_REQUIRE_PREPARED=1 after preparing everything
(and in CI, CI=true), a missing prerequisite is a failure: nothing the suite needs may be
silently skipped there.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def required() -> bool:
    """True when every prepared thing must be there (make test, CI)."""
    return (
        os.environ.get("TUBEDEMO_REQUIRE_PREPARED") == "1"
        or os.environ.get("CI", "").lower() == "true"
    )


def unavailable(reason: str, step: str) -> NoReturn:
    """Skip (or, under make test, fail) because `step` of scripts/prepare-tests has not run."""
    message = f"{reason}: run scripts/prepare-tests {step}"
    if required():
        pytest.fail(
            f"{message} (TUBEDEMO_REQUIRE_PREPARED=1: make test prepares it)", pytrace=False
        )
    pytest.skip(message)
