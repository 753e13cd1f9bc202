from __future__ import annotations

from typing import Any

import pytest

from tubedemo.manifests import crds


@pytest.fixture(scope="session")
def crd_docs() -> list[dict[str, Any]]:
    """The pinned upstream CRDs from the cache that `tubedemo crds fetch` fills (nox does)."""
    if not crds.is_cached():
        pytest.fail(
            f"upstream CRDs are not cached in {crds.cache_dir()}: run `tubedemo crds fetch` "
            "(nox -s tests does it before pytest)"
        )
    return crds.load_crds()
