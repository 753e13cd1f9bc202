"""Fixtures of the image tests: the local base, both images built from the repo's Dockerfiles
with `tubedemo images build --tool buildah`, and a network namespace to run them in."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts import build_image_base
from tests import netns, prepared

REPO = Path(__file__).resolve().parents[2]


def _require_tools() -> None:
    for tool in ("buildah", "skopeo", "docker-registry"):
        if shutil.which(tool) is None:
            prepared.unavailable(f"{tool} is not installed", "container-tools")
    reason = netns.unavailable_reason()
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def base_image() -> str:
    """localhost/tubedemo-test-base:<key>, made by scripts/build-image-base (a prepare step)."""
    _require_tools()
    if not build_image_base.is_current():
        prepared.unavailable("the local base image is not built", "image-base")
    return build_image_base.image()


@pytest.fixture(scope="session")
def image_tag() -> str:
    return f"test-{os.getpid()}"


@pytest.fixture(scope="session")
def built_images(base_image: str, image_tag: str) -> Iterator[dict[str, str]]:
    """Both images, built by the CLI from the repository's Dockerfiles on the local base."""
    cmd = [sys.executable, "-m", "tubedemo", "images", "build", "--tool", "buildah",
           f"--build-arg=BASE={base_image}", f"--tag={image_tag}", "--quiet"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1500, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    refs = {
        "gateway": f"localhost/tubedemo/gateway:{image_tag}",
        "vllm-standin": f"localhost/tubedemo/vllm-standin:{image_tag}",
    }
    yield refs
    for ref in refs.values():  # the tags only; the cached layers stay for the next run
        subprocess.run(["buildah", "rmi", ref], capture_output=True, timeout=120, check=False)


@pytest.fixture
def host() -> Iterator[netns.TestHost]:
    with netns.test_host() as made:
        yield made
