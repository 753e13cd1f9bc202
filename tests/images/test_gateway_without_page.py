"""The gateway image cannot be built without the page: the build fails, saying what to do."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.images.pods import REPO
from tubedemo.core.errors import ImageError
from tubedemo.images import plan, tool

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


def test_building_the_gateway_from_a_checkout_without_web_dist_fails_loudly(
    base_image: str, tmp_path: Path
) -> None:
    # A checkout as git clones it: web/dist is gitignored, so it is not there.
    checkout = tmp_path / "checkout"
    shutil.copytree(
        REPO / "gateway", checkout / "gateway", ignore=shutil.ignore_patterns("__pycache__")
    )
    (checkout / "web").mkdir()
    shutil.copy(REPO / "web" / "index.html", checkout / "web" / "index.html")
    recipe = plan.select(["gateway"])[0]
    buildah = tool.detect("buildah")
    with pytest.raises(ImageError) as failed:
        buildah.build(
            recipe, checkout, "localhost/tubedemo/gateway:no-page", plan.DEFAULT_PLATFORM,
            {"BASE": base_image}, stream=False,
        )  # fmt: skip
    assert "web/dist/index.html is missing: build the page first" in failed.value.message
    assert "npm run build" in failed.value.message
    assert not buildah.exists("localhost/tubedemo/gateway:no-page")
