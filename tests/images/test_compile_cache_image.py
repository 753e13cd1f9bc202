"""vLLM's compile-cache helpers as the eks render runs them: the built gateway image, the
rendered command, args, env and securityContext of `compile-cache-pull` and
`compile-cache-push`, the pod's /models volume, against moto in server mode on a test host
(a real S3-speaking server; static keys and AWS_ENDPOINT_URL stand in for IRSA, which only EKS
has) and a stand-in for vLLM's /health on the pod's loopback (a MOCK: a static file server)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import wait_until
from tests.images import pods
from tests.netns import TestHost

KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@pytest.fixture
def s3_on_host(host: TestHost) -> Iterator[str]:
    """moto's server inside the test host; its endpoint URL."""
    port = 4566
    server = subprocess.Popen(
        host.wrap([sys.executable, "-m", "moto.server", "-H", host.address, "-p", str(port)]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://{host.address}:{port}"
    try:
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-west-2", **_keys())
        wait_until("moto on the test host", lambda: _answers(client), timeout=60)
        yield endpoint
    finally:
        server.terminate()
        server.wait(10)


def _keys() -> dict[str, str]:
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def _answers(client: Any) -> bool:
    try:
        client.list_buckets()
    except Exception:
        return False
    return True


def _helpers(built_images: dict[str, str], workdir: Path) -> dict[str, dict[str, Any]]:
    rendered = pods.render(
        "eks",
        workdir,
        f"gateway.image={built_images['gateway']}",
        "cluster.account_id=123456789012",
        "model.compile_cache=true",
    )
    (pod,) = [
        o["spec"]["template"]["spec"]
        for o in rendered
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "vllm"
    ]
    return {
        c["name"]: {"spec": c, "pod": pod["securityContext"]}
        for c in [*pod["initContainers"], *pod["containers"]]
        if c["name"].startswith("compile-cache")
    }


def _run(
    host: TestHost,
    image: str,
    helper: dict[str, Any],
    models: Path,
    endpoint: str,
    log: Path,
    until: str,
) -> str:
    c = pods.Container("vllm", helper["spec"], helper["pod"])
    env = {**c.env({}), **KEYS, "AWS_ENDPOINT_URL": endpoint}
    mount = c.spec["volumeMounts"][0]["mountPath"]
    with pods.run_pod(
        host, image, c.argv(image), env, log, c.where,
        volumes={models: mount}, secure=c.security(image),
    ) as pod:  # fmt: skip
        wait_until(f"{c.where} to say {until!r}", lambda: until in pod.output(), timeout=120)
        return pod.output()


def test_the_rendered_helpers_in_the_gateway_image_fill_the_cache_then_a_new_pod_gets_it(
    built_images: dict[str, str], host: TestHost, s3_on_host: str, tmp_path: Path
) -> None:
    image = built_images["gateway"]
    helpers = _helpers(built_images, tmp_path)
    pull, push = helpers["compile-cache-pull"], helpers["compile-cache-push"]
    bucket = next(a for a in pull["spec"]["args"] if a.startswith("--bucket=")).split("=", 1)[1]
    boto3.client("s3", endpoint_url=s3_on_host, region_name="us-west-2", **_keys()).create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    first, second = tmp_path / "first", tmp_path / "second"
    for models in (first, second):  # the pod's emptyDir, writable by the image's user
        models.mkdir()
        models.chmod(0o777)
    cold = _run(host, image, pull, first, s3_on_host, tmp_path / "pull1.log", "none complete")
    assert "compile cache: none complete" in cold
    # vLLM compiled cold and wrote its cache under VLLM_CACHE_ROOT (as root, world-readable)
    cache = first / "vllm-cache" / "torch_compile_cache" / "5e1f0a9c2b" / "rank_0_0"
    cache.mkdir(parents=True)
    (cache / "vllm_compile_cache.py").write_text("{(1, 8192): 'a'}")
    (cache / "artifact_compile_range_1_8192").write_bytes(b"\x00" * 4096)
    # vLLM serves: the push waits for /health on the pod's loopback (a stand-in answers 200)
    health = tmp_path / "health"
    health.mkdir()
    (health / "health").write_text("ok")
    port = next(a for a in push["spec"]["args"] if a.startswith("--ready-url=")).split(":")[-1]
    vllm = subprocess.Popen(
        host.wrap([sys.executable, "-m", "http.server", port.split("/")[0], "--bind",
                   "127.0.0.1", "--directory", str(health)]),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        pushed = _run(host, image, push, first, s3_on_host, tmp_path / "push.log", "files to")
    finally:
        vllm.terminate()
        vllm.wait(10)
    assert "compile cache: 2 files to" in pushed, pushed
    warm = _run(host, image, pull, second, s3_on_host, tmp_path / "pull2.log", "files from")
    assert "compile cache: 2 files from" in warm, warm
    got = second / "vllm-cache" / "torch_compile_cache" / "5e1f0a9c2b" / "rank_0_0"
    assert (got / "artifact_compile_range_1_8192").read_bytes() == b"\x00" * 4096
