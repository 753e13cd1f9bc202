"""Both images, built from the repository's Dockerfiles, run exactly as the rendered Deployments
say (command, args, env, ports unchanged, in a network namespace of the test's own) and answer
what their consumers ask: the kubelet's probes, the phones, the collector."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import wait_until
from tests.images import pods
from tests.images.pods import Container, Pod
from tests.netns import TestHost

# The first test also builds both images (cold: a few minutes on 2 shared cores).
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1500)]

ADMIN = "image-test-admin-token"
VLLM_KEY = "image-test-vllm-key"
SECRETS = {("tubedemo-admin", "token"): ADMIN, ("tubedemo-admin", "vllm-api-key"): VLLM_KEY}
# What the kubelet adds to every pod; the API server itself is not there (the gateway's mode
# watch retries in the background, which is what it does when the API server is away).
KUBELET_ENV = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "6443"}


def _serving(pod: Pod, url: str) -> httpx.Response | None:
    if pod.exited() is not None:
        raise AssertionError(
            f"{pod.where} exited {pod.exited()} with its rendered command line:\n{pod.output()}"
        )
    try:
        resp = httpx.get(url, timeout=2, trust_env=False)
    except httpx.HTTPError:
        return None
    return resp if resp.status_code == 200 else None


def _ready(
    pod: Pod, c: Container, host: TestHost, probe: str = "readinessProbe", timeout: float = 60
) -> str:
    """Wait for the rendered probe to pass on the rendered port; returns the base URL."""
    path, port = c.probe(probe)
    base = f"http://{host.address}:{port}"
    try:
        wait_until(
            f"{c.where}: {probe} GET {path} on containerPort {port} (args {c.spec.get('args')})",
            lambda: _serving(pod, base + path),
            timeout=timeout,
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- the container's output:\n{pod.output()}") from None
    return base


def _stream(base: str, model: str, path: str = "/v1/chat/completions") -> list[dict[str, object]]:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "Which is the deepest station?"}],
        "stream": True,
        "max_tokens": 5,
    }
    chunks: list[dict[str, object]] = []
    headers: dict[str, str] = {}
    if path == "/v1/chat/completions":  # through the gateway: a phone's identity, as the page
        issued = httpx.post(base + "/api/identity", timeout=30, trust_env=False)
        if issued.status_code == 200:  # the vLLM stand-in has no such route and needs none
            headers["X-Tubedemo-Identity"] = issued.json()["token"]
    with httpx.stream(
        "POST", base + path, json=body, headers=headers, timeout=30, trust_env=False
    ) as resp:
        assert resp.status_code == 200, resp.read()
        assert resp.headers["content-type"].startswith("text/event-stream")
        done = False
        for line in resp.iter_lines():
            if line == "data: [DONE]":
                done = True
            elif line.startswith("data: "):
                chunks.append(json.loads(line[6:]))
        assert done, "the stream ended without [DONE]"
    return chunks


def _text(chunks: list[dict[str, object]]) -> str:
    out = []
    for chunk in chunks:
        for choice in chunk.get("choices", []):  # type: ignore[attr-defined]
            out.append(choice.get("delta", {}).get("content") or "")
    return "".join(out)


@pytest.fixture(scope="session")
def rendered_local(
    built_images: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> list[dict[str, Any]]:
    """The local profile as `tubedemo init --profile local` + `render` give it, with the
    references a push of these images would write (rendered once; tests copy what they change)."""
    return pods.render(
        "local",
        tmp_path_factory.mktemp("render"),
        f"gateway.image={built_images['gateway']}",
        f"local.vllm_stand_in_image={built_images['vllm-standin']}",
    )


def _standin(built_images: dict[str, str], rendered: list[dict[str, Any]]) -> tuple[str, Container]:
    image = built_images["vllm-standin"]
    c = pods.container(copy.deepcopy(rendered), "vllm")
    assert c.spec["image"] == image
    return image, c


def check_standin(
    image: str, c: Container, host: TestHost, tmp_path: Path, ready_within: float = 60
) -> None:
    """Run the stand-in image as ``c`` says; check probes, API, stream and /metrics."""
    served = next(a.split("=", 1)[1] for a in c.spec["args"] if a.startswith("--served-model-"))
    with pods.run_pod(
        host, image, c.argv(image), {**KUBELET_ENV, **c.env(SECRETS)}, tmp_path / "pod.log",
        c.where, secure=c.security(image),
    ) as pod:  # fmt: skip
        base = _ready(pod, c, host, timeout=ready_within)
        live, live_port = c.probe("livenessProbe")
        assert httpx.get(f"http://{host.address}:{live_port}{live}", trust_env=False).is_success
        models = httpx.get(base + "/v1/models", trust_env=False).json()
        assert [m["id"] for m in models["data"]] == [served]
        chunks = _stream(base, served)
        assert len(_text(chunks).split()) == 5
        metrics = httpx.get(base + "/metrics", trust_env=False).text
        samples = {
            s.name: s for family in text_string_to_metric_families(metrics) for s in family.samples
        }
        assert samples["vllm:num_requests_waiting"].labels["model_name"] == served
        assert samples["vllm:num_requests_waiting"].value == 0
        assert samples["vllm:time_to_first_token_seconds_count"].value == 1
        assert "vllm:kv_cache_usage_perc" in samples


def test_standin_image_runs_as_the_local_vllm_deployment_and_serves_vllm_api_and_metrics(
    built_images: dict[str, str],
    rendered_local: list[dict[str, Any]],
    host: TestHost,
    tmp_path: Path,
) -> None:
    image, c = _standin(built_images, rendered_local)
    check_standin(image, c, host, tmp_path)


def test_a_flag_the_standin_does_not_know_fails_naming_the_deployment_and_the_flag(
    built_images: dict[str, str],
    rendered_local: list[dict[str, Any]],
    host: TestHost,
    tmp_path: Path,
) -> None:
    image, c = _standin(built_images, rendered_local)
    c.spec["args"].append("--no-such-flag")  # what a template change would render
    with pytest.raises(AssertionError) as failed:
        check_standin(image, c, host, tmp_path)
    assert "Deployment/vllm container vllm exited 2" in str(failed.value)
    assert "unrecognized arguments: --no-such-flag" in str(failed.value)


def test_a_port_flag_that_disagrees_with_the_container_port_fails_naming_both(
    built_images: dict[str, str],
    rendered_local: list[dict[str, Any]],
    host: TestHost,
    tmp_path: Path,
) -> None:
    image, c = _standin(built_images, rendered_local)
    c.spec["args"] = [a if not a.startswith("--port=") else "--port=8001" for a in c.spec["args"]]
    with pytest.raises(AssertionError) as failed:  # the good case is ready in a few seconds
        check_standin(image, c, host, tmp_path, ready_within=20)
    message = str(failed.value)
    assert (
        "Deployment/vllm container vllm: readinessProbe GET /v1/models on containerPort 8000"
        in (message)
    )
    assert "--port=8001" in message


def _gateway(built_images: dict[str, str], rendered: list[dict[str, Any]]) -> tuple[str, Container]:
    image = built_images["gateway"]
    c = pods.container(copy.deepcopy(rendered), "gateway")
    assert c.spec["image"] == image
    return image, c


def check_gateway(image: str, c: Container, host: TestHost, tmp_path: Path) -> None:
    """Run the gateway image as ``c`` says, a fake vLLM behind the rendered upstream URL; check
    liveness, readiness's reason, the page, /config and a streamed completion."""
    env = c.env(SECRETS)
    upstream = httpx.URL(env["TUBEDEMO_UPSTREAM"])
    # vLLM's Service name resolves, as cluster DNS would, to a fake vLLM in the same namespace
    # on the Service's port: the rendered upstream URL is used unchanged.
    fake = subprocess.Popen(
        # the fake refuses /v1 without the key the rendered Secret gives vLLM: the streamed
        # completion below proves the gateway sends it
        host.wrap(
            [
                sys.executable,
                "-m",
                "gateway.fake_vllm",
                f"--port={upstream.port}",
                f"--api-key={env.get('TUBEDEMO_UPSTREAM_API_KEY', '')}",
            ]
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=pods.REPO,
    )
    data, tmp = tmp_path / "data", tmp_path / "tmp"
    for folder in (data, tmp):  # the pod's volumes, writable by the image's user (10001)
        folder.mkdir()
        folder.chmod(0o777)
    mounts = {m["name"]: m["mountPath"] for m in c.spec["volumeMounts"]}
    try:
        assert fake.stdout is not None and fake.stdout.readline().startswith(b"PORT")
        with pods.run_pod(
            host, image, c.argv(image), {**KUBELET_ENV, **env}, tmp_path / "pod.log", c.where,
            volumes={data: mounts["data"], tmp: mounts["tmp"]},
            hosts={upstream.host: "127.0.0.1"}, secure=c.security(image),
        ) as pod:  # fmt: skip
            # Ready needs the mode ConfigMap from the API server, which is not here (its watch
            # is tested against the real kube-apiserver in tests/gateway): wait for liveness, and
            # check that readiness says exactly that.
            base = _ready(pod, c, host, "livenessProbe")
            path, port = c.probe("readinessProbe")
            ready = httpx.get(f"http://{host.address}:{port}{path}", trust_env=False)
            assert ready.status_code == 503 and ready.json()["mode_synced"] is False
            assert ready.json()["mode_source"] == "configmap"
            # what is not the audience's is served on the internal port only: the public one
            # (the Service's, the NLB's) answers 404 for it
            assert httpx.get(base + "/metrics", trust_env=False).status_code == 404
            internal = httpx.get(f"http://{host.address}:{port}/metrics", trust_env=False)
            assert internal.status_code == 200 and "# TYPE" in internal.text
            page = httpx.get(base + "/", trust_env=False)
            assert page.status_code == 200 and '<div id="root">' in page.text, page.text[:300]
            assert "not built" not in page.text
            config = httpx.get(base + "/config", trust_env=False).json()
            assert config["mode"] == "quiz"
            chunks = _stream(base, env["TUBEDEMO_MODEL"])
            assert _text(chunks), chunks
            assert list(data.iterdir()), "the gateway stored nothing on its data volume"
    finally:
        fake.terminate()
        fake.wait(timeout=10)


def test_gateway_image_runs_as_the_rendered_deployment_and_serves_page_config_and_stream(
    built_images: dict[str, str],
    rendered_local: list[dict[str, Any]],
    host: TestHost,
    tmp_path: Path,
) -> None:
    image, c = _gateway(built_images, rendered_local)
    check_gateway(image, c, host, tmp_path)


def test_an_env_value_the_gateway_rejects_fails_naming_the_deployment_and_the_variable(
    built_images: dict[str, str],
    rendered_local: list[dict[str, Any]],
    host: TestHost,
    tmp_path: Path,
) -> None:
    image, c = _gateway(built_images, rendered_local)
    for item in c.spec["env"]:
        if item["name"] == "TUBEDEMO_MAX_TOKENS":
            item["value"] = "two hundred"  # what a template change would render
    with pytest.raises(AssertionError) as failed:
        check_gateway(image, c, host, tmp_path)
    assert "Deployment/gateway container gateway exited" in str(failed.value)
    assert "TUBEDEMO_MAX_TOKENS" in str(failed.value)


# What the container's own process sees of its securityContext, printed from inside it.
_SELF_PROBE = """
import os
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print("uid", os.getuid(), "gid", os.getgid())
for field in ("CapEff", "CapPrm", "CapInh", "CapAmb", "NoNewPrivs", "Seccomp"):
    print(field, status[field].strip())
for path in ("/probe", "/tmp/probe"):
    try:
        open(path, "w").close()
        print("write", path, "ok")
    except OSError as exc:
        print("write", path, exc.strerror)
"""


def test_the_gateway_container_runs_under_its_rendered_security_context(
    built_images: dict[str, str],
    rendered_local: list[dict[str, Any]],
    host: TestHost,
    tmp_path: Path,
) -> None:
    image, c = _gateway(built_images, rendered_local)
    secure = c.security(image)
    sc = {**c.pod_security, **c.spec["securityContext"]}
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    tmp.chmod(0o777)
    mounts = {m["name"]: m["mountPath"] for m in c.spec["volumeMounts"]}
    log = tmp_path / "probe.log"
    with pods.run_pod(
        host, image, ["python3", "-c", _SELF_PROBE], {}, log, c.where,
        volumes={tmp: mounts["tmp"]}, secure=secure,
    ) as pod:  # fmt: skip
        wait_until("the probe's last line", lambda: "write /tmp/probe" in pod.output())
    lines = pod.output().splitlines()
    seen = dict(line.split(" ", 1) for line in lines if " " in line)
    assert f"uid {sc['runAsUser']} gid {sc['runAsGroup']}" in lines, lines
    for caps in ("CapEff", "CapPrm", "CapInh", "CapAmb"):  # capabilities: drop: [ALL]
        assert int(seen[caps], 16) == 0, lines
    assert seen["NoNewPrivs"] == "1", lines  # allowPrivilegeEscalation: false
    assert seen["Seccomp"] == "2", lines  # a filter: buildah's default profile (RuntimeDefault)
    assert "write /probe Read-only file system" in lines, lines  # readOnlyRootFilesystem
    assert "write /tmp/probe ok" in lines, lines  # the rendered volume stays writable
