"""`tubedemo images push` into a real registry (Debian's docker-registry, the CNCF
distribution registry, on loopback), the references written into demo.yaml, and the images
pulled back by digest with skopeo."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import wait_until
from tests.images.pods import REPO
from tubedemo.core.processes import free_port

# The first test also builds both images (cold: a few minutes on 2 shared cores).
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1500)]


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    """docker-registry on 127.0.0.1 with a config file of our own, storage in tmp_path."""
    port = free_port()
    config = tmp_path / "registry.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "version": 0.1,
                "log": {"level": "warn"},
                "storage": {"filesystem": {"rootdirectory": str(tmp_path / "blobs")}},
                "http": {"addr": f"127.0.0.1:{port}"},
            }
        )
    )
    log = (tmp_path / "registry.log").open("wb")
    proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log, stderr=log)
    try:
        wait_until(
            "docker-registry answering /v2/",
            lambda: _answers(f"http://127.0.0.1:{port}/v2/"),
            timeout=30,
        )
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def test_push_writes_digest_pinned_references_into_demo_yaml_and_they_pull_back_by_digest(
    built_images: dict[str, str], image_tag: str, registry: str, tmp_path: Path
) -> None:
    config = tmp_path / "demo.yaml"
    subprocess.run(
        [sys.executable, "-m", "tubedemo", "init", str(config), "--profile", "local"],
        check=True, capture_output=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    before = config.read_text()
    push = subprocess.run(
        [sys.executable, "-m", "tubedemo", "images", "push", "--registry", registry,
         "--tool", "buildah", "--insecure", f"--tag={image_tag}", "--write", "-c", str(config)],
        capture_output=True, text=True, cwd=REPO, timeout=600,
    )  # fmt: skip
    assert push.returncode == 0, push.stdout + push.stderr
    written = yaml.safe_load(config.read_text())
    refs = {
        "gateway": written["gateway"]["image"],
        "vllm-standin": written["local"]["vllm_stand_in_image"],
    }
    for name, ref in refs.items():
        assert ref.startswith(f"{registry}/tubedemo/{name}:{image_tag}@sha256:"), ref
        assert f"--set {'gateway.image' if name == 'gateway' else 'local.vllm_stand_in_image'}" \
            f"={ref}" in push.stdout  # fmt: skip
    # Only the two lines changed: every comment of `tubedemo init` is still there.
    changed = [
        (a, b) for a, b in zip(before.splitlines(), config.read_text().splitlines(), strict=True)
        if a != b
    ]  # fmt: skip
    assert len(changed) == 2 and all("image" in a for a, _ in changed), changed
    for name, ref in refs.items():
        repository, digest = ref.split(f":{image_tag}@")
        by_digest = f"{repository}@{digest}"
        inspected = json.loads(
            subprocess.run(
                ["skopeo", "inspect", "--tls-verify=false", f"docker://{by_digest}"],
                capture_output=True, text=True, check=True, timeout=120,
            ).stdout
        )  # fmt: skip
        assert inspected["Digest"] == digest
        assert inspected["Architecture"] == "amd64" and inspected["Os"] == "linux"
        pulled = tmp_path / f"pulled-{name}"
        subprocess.run(
            ["skopeo", "copy", "--src-tls-verify=false", f"docker://{by_digest}",
             f"oci:{pulled}:x"],
            capture_output=True, text=True, check=True, timeout=300,
        )  # fmt: skip
        assert (pulled / "index.json").is_file()
    # The config now renders the pushed references, and up would deploy them.
    render = subprocess.run(
        [sys.executable, "-m", "tubedemo", "render", "-c", str(config)],
        capture_output=True, text=True, cwd=REPO, timeout=120, check=True,
    ).stdout  # fmt: skip
    assert f"image: {refs['gateway']}" in render
    assert f"image: {refs['vllm-standin']}" in render
