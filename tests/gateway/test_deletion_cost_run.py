"""gateway.deletion_cost run for real against the API server, as the rendered ServiceAccount
(its RBAC is what the program may do): it annotates the vLLM pods, and only them, once."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from kubernetes import client

from gateway.deletion_cost import ANNOTATION
from tests.gateway.test_deletion_cost import _labels
from tubedemo.core.config import config_from_dict
from tubedemo.manifests.render import deletion_cost_prices, render


def test_the_rendered_program_annotates_the_vllm_pods_as_its_service_account(
    kube: Any, namespace: str, tmp_path: Path
) -> None:
    cfg = config_from_dict({"cluster": {"namespace": namespace}})
    objects = [o for o in render(cfg) if o["metadata"]["name"].startswith("tubedemo-deletion")]
    for obj in objects:
        if obj["kind"] != "Deployment":
            kube.apply(obj, namespace if "namespace" in obj["metadata"] else None)
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    api = kube.api_client()
    core = client.CoreV1Api(api)
    nodes = {
        f"big-{uuid.uuid4().hex[:6]}": "g5.12xlarge",
        f"small-{uuid.uuid4().hex[:6]}": "g5.2xlarge",
    }
    try:
        for name, kind in nodes.items():
            core.create_node({"metadata": {"name": name, "labels": _labels(kind, "spot")}})
        big, small = nodes
        for name, node, app in (("vllm-a", big, "vllm"), ("vllm-b", small, "vllm"),
                                ("other", big, "gateway")):  # fmt: skip
            core.create_namespaced_pod(
                namespace,
                {
                    "metadata": {"name": name, "labels": {"app.kubernetes.io/name": app}},
                    "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x"}]},
                },
            )
        token = core.create_namespaced_service_account_token(
            "tubedemo-deletion-cost", namespace, {"spec": {"expirationSeconds": 600}}
        ).status.token
        (tmp_path / "token").write_text(token)

        def run() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "gateway.deletion_cost",
                    *args,
                    "--once",
                    f"--api={api.configuration.host}",
                    f"--token-file={tmp_path / 'token'}",
                    f"--ca-file={api.configuration.ssl_ca_cert}",
                ],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )

        first = run()
        assert first.returncode == 0, first.stderr
        costs = {
            p.metadata.name: (p.metadata.annotations or {}).get(ANNOTATION)
            for p in core.list_namespaced_pod(namespace).items
        }
        assert costs == {"vllm-a": "-2400", "vllm-b": "-550", "other": None}
        again = run()  # nothing changed: nothing patched
        assert again.returncode == 0 and again.stdout == "", again.stdout
        assert json.loads(args[-1].removeprefix("--prices=")) == deletion_cost_prices(cfg)
    finally:
        for name in nodes:
            core.delete_node(name)
