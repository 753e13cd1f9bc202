"""The OpenTelemetry Collector built by scripts/build-otelcol, and the config we render for it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from tests import prepared
from tests.kube.controlplane import free_port
from tests.kube.fixtures import Kube
from tests.kube.in_pod import as_security_context, in_pod, service_account_dir
from tubedemo.core.config import config_from_dict
from tubedemo.manifests.render import render

REPO = Path(__file__).resolve().parents[3]


def otelcol() -> Path:
    """The built collector, or skip/fail (under make test) when the build has not run."""
    path = Path(
        subprocess.run(
            [sys.executable, str(REPO / "scripts" / "build-otelcol"), "--print-path"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    if not path.is_file():
        prepared.unavailable("OpenTelemetry Collector not built", "otelcol")
    return path


def rendered_config(raw: dict[str, Any]) -> str:
    """The collector's config.yaml exactly as the ConfigMap of the render carries it."""
    for obj in render(config_from_dict(raw)):
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == "otel-collector":
            return str(obj["data"]["config.yaml"])
    raise AssertionError("the render has no otel-collector ConfigMap")


def components_used(config_text: str) -> dict[str, set[str]]:
    """Component types per kind (receivers, ...) that a collector config names."""
    config = yaml.safe_load(config_text)
    return {
        kind: {name.split("/")[0] for name in config.get(kind) or {}}
        for kind in ("receivers", "processors", "exporters", "extensions")
    }


def apply_collector_rbac(kube: Kube, namespace: str, raw: dict[str, Any]) -> None:
    """The collector's RBAC exactly as rendered: its pod discovery must work with these rights."""
    for obj in render(config_from_dict(raw)):
        if obj["metadata"]["name"] == "otel-collector" and obj["kind"] in (
            "ServiceAccount",
            "Role",
            "RoleBinding",
        ):
            kube.apply(obj, namespace)


def start_collector(
    kube: Kube,
    namespace: str,
    binary: Path,
    config: Path,
    sink_port: int,
    tmp_path: Path,
    raw: dict[str, Any],
    *,
    extra: Sequence[str] = (),
    env: dict[str, str] | None = None,
    files: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """The collector as in its pod (in-cluster config, its ServiceAccount's token, the rendered
    securityContext: its user, no capabilities, no privilege escalation, a read-only root),
    exporting to the test receiver; its output in tmp_path/otelcol.log. The binary and config
    sit in the pod's /run (where the token is), as the image and the ConfigMap volume would:
    the user of the securityContext cannot reach root's folders. ``extra``: more collector
    arguments (``--set=...``); ``env``: more environment (the downward API's values);
    ``files``: more files under the pod's /run (path relative to it -> text), as a mounted
    volume would hold them."""
    run_root = service_account_dir(kube, namespace, "otel-collector", tmp_path / "run")
    (run_root / "conf").mkdir()
    shutil.copyfile(config, run_root / "conf" / "config.yaml")
    for relative, text in (files or {}).items():
        path = run_root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    try:  # the same file system: a link, not a copy of 100+ MB
        os.link(binary, run_root / "otelcol")
    except OSError:
        shutil.copy2(binary, run_root / "otelcol")
    pod, container = collector_security(raw)
    log = (tmp_path / "otelcol.log").open("w")
    argv, child_env = in_pod(
        kube,
        run_root,
        as_security_context(
            pod,
            container,
            [
                "/run/otelcol",
                "--config=file:/run/conf/config.yaml",
                f"--set=exporters::otlp_grpc/kedify::endpoint=127.0.0.1:{sink_port}",
                f"--set=extensions::health_check::endpoint=127.0.0.1:{free_port()}",
                "--set=service::telemetry::metrics::level=none",
                *extra,
            ],
        ),
        env,
        read_only_root=bool({**pod, **container}.get("readOnlyRootFilesystem")),
    )
    return subprocess.Popen(argv, env=child_env, stdout=log, stderr=subprocess.STDOUT)


def collector_security(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The rendered collector Deployment's pod and container securityContext."""
    for obj in render(config_from_dict(raw)):
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == "otel-collector":
            spec = obj["spec"]["template"]["spec"]
            return spec["securityContext"], spec["containers"][0]["securityContext"]
    raise AssertionError("the render has no otel-collector Deployment")
