"""`tubedemo show --mode-via cluster` flips the mode ConfigMap on time, on a real kube-apiserver."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

pytestmark = pytest.mark.integration

CM = "tubedemo-mode"  # the ConfigMap the gateway's Deployment names in TUBEDEMO_MODE_CONFIGMAP


def test_show_flips_the_mode_configmap_at_the_scheduled_offsets(
    kube: Any, namespace: str, tmp_path: Path
) -> None:
    core = client.CoreV1Api(kube.api_client())
    core.create_namespaced_config_map(
        namespace, {"metadata": {"name": CM}, "data": {"mode": "survey"}}
    )
    # the admin token `up` insists on: show derives k6's load credential from it
    core.create_namespaced_secret(
        namespace,
        {"metadata": {"name": "tubedemo-admin"}, "stringData": {"token": "show-mode-test-token"}},
    )
    config = tmp_path / "demo.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "cluster": {"namespace": namespace},
                # show needs the audience URL on a cluster (k6 and the presenter's burst keys
                # use it); this cluster's gateway Service has no load balancer address, so the
                # URL is given, as a presenter with their own DNS name would
                "talk": {"duration": 3, "audience_url": "https://talk.example.org"},
                "timeline": {
                    "phases": [
                        {"name": "quiz", "at": 0, "duration": 2, "mode": "quiz"},
                        {"name": "survey", "at": 2, "duration": 1, "mode": "survey"},
                    ]
                },
            }
        ),
        encoding="utf-8",
    )
    seen: list[tuple[float, str]] = []
    stop = threading.Event()

    def watch() -> None:
        last = "survey"
        while not stop.is_set():
            mode = (core.read_namespaced_config_map(CM, namespace).data or {}).get("mode")
            if mode != last:
                seen.append((time.time(), str(mode)))
                last = str(mode)
            stop.wait(0.03)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tubedemo",
                "show",
                "-c",
                str(config),
                "--mode-via",
                "cluster",
                "--kubeconfig",
                str(kube.kubeconfig),
                "--no-dashboard",
                "--record",
                str(tmp_path / "talk.jsonl"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "COLUMNS": "200"},
        )
    finally:
        stop.set()
        watcher.join(5)
    assert done.returncode == 0, done.stderr
    t0 = float(re.search(r"\(unix ([0-9.]+)\)", done.stdout).group(1))  # type: ignore[union-attr]
    assert [m for _, m in seen] == ["quiz", "survey"], (seen, done.stdout)
    assert abs(seen[0][0] - t0) < 1.0 and abs(seen[1][0] - t0 - 2) < 1.0, (seen, t0)
    managers = {
        f.manager for f in core.read_namespaced_config_map(CM, namespace).metadata.managed_fields
    }
    assert "tubedemo-mode" in managers
