"""Run one of our images the way a kubelet would run the rendered Deployment's container.

The container spec comes from ``tubedemo render`` (the CLI's real output). Its command line
follows Kubernetes' rules against the image's own config (``command`` replaces ENTRYPOINT,
``args`` replaces CMD), its env is exactly the rendered ``env`` (values from Secrets come from
the test, as the kubelet would take them from the Secret; a Secret the test does not know
fails naming it), plus what every pod gets (KUBERNETES_SERVICE_HOST/PORT). It runs with
``buildah run --isolation chroot --network host`` inside a network namespace of the test's
own (tests/netns.py), so the rendered ports are used unchanged and nothing else on the machine
is in the way. What is not reproduced: the securityContext (buildah run has no read-only root
or capability drop here) and resource limits.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.netns import TestHost

REPO = Path(__file__).resolve().parents[2]


def render(profile: str, workdir: Path, *overrides: str) -> list[dict[str, Any]]:
    """What `tubedemo render` prints for the demo.yaml `tubedemo init --profile` writes, with
    these --set overrides (the image references a push would write)."""
    config = workdir / f"demo-{profile}.yaml"
    init = [sys.executable, "-m", "tubedemo", "init", str(config), "--profile", profile, "--force"]
    subprocess.run(init, capture_output=True, timeout=120, cwd=REPO, check=True)
    cmd = [sys.executable, "-m", "tubedemo", "render", "--config", str(config)]
    for item in overrides:
        cmd += ["--set", item]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


@dataclass(frozen=True)
class Container:
    """One rendered container and the Deployment it belongs to."""

    deployment: str
    spec: dict[str, Any]

    @property
    def where(self) -> str:
        return f"Deployment/{self.deployment} container {self.spec['name']}"

    def port(self, name: str = "http") -> int:
        for port in self.spec.get("ports", []):
            if port.get("name") == name:
                return int(port["containerPort"])
        raise AssertionError(f"{self.where} has no port named {name!r}")

    def probe(self, kind: str) -> tuple[str, int]:
        """(path, port number) of an httpGet probe, the named port resolved."""
        get = self.spec[kind]["httpGet"]
        port = get["port"]
        return get["path"], self.port(port) if isinstance(port, str) else int(port)

    def env(self, secrets: dict[tuple[str, str], str]) -> dict[str, str]:
        out = {}
        for item in self.spec.get("env", []):
            if "value" in item:
                out[item["name"]] = str(item["value"])
                continue
            ref = item["valueFrom"]["secretKeyRef"]
            key = (ref["name"], ref["key"])
            if key not in secrets:
                raise AssertionError(
                    f"{self.where} env {item['name']} comes from Secret {key[0]} key {key[1]}, "
                    "which the test does not provide"
                )
            out[item["name"]] = secrets[key]
        return out

    def argv(self, image: str) -> list[str]:
        """Kubernetes' command line: command||ENTRYPOINT, then args||CMD (CMD only when
        neither command nor args is given)."""
        config = image_config(image)
        command = self.spec.get("command") or config.get("Entrypoint") or []
        if "args" in self.spec:
            args = self.spec["args"]
        elif "command" in self.spec:
            args = []
        else:
            args = config.get("Cmd") or []
        return [str(a) for a in (*command, *args)]


def container(objects: list[dict[str, Any]], deployment: str) -> Container:
    for obj in objects:
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == deployment:
            return Container(deployment, obj["spec"]["template"]["spec"]["containers"][0])
    raise AssertionError(f"no Deployment/{deployment} rendered")


def image_config(image: str) -> dict[str, Any]:
    done = subprocess.run(
        ["buildah", "inspect", "--type", "image", image],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(json.loads(done.stdout)["OCIv1"]["config"])


@dataclass
class Pod:
    process: subprocess.Popen[bytes]
    log: Path
    where: str

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def exited(self) -> int | None:
        return self.process.poll()


@contextmanager
def run_pod(
    host: TestHost,
    image: str,
    argv: list[str],
    env: dict[str, str],
    log: Path,
    where: str,
    volumes: dict[Path, str] | None = None,
    hosts: dict[str, str] | None = None,
) -> Iterator[Pod]:
    """The image's container running ``argv`` with ``env`` inside ``host``'s namespace."""
    name = f"tubedemo-test-{uuid.uuid4().hex[:10]}"
    add_hosts = [f"--add-host={h}:{ip}" for h, ip in (hosts or {}).items()]
    subprocess.run(
        ["buildah", "from", "--pull-never", "--quiet", f"--name={name}", *add_hosts, image],
        capture_output=True,
        timeout=120,
        check=True,
    )
    cmd = ["buildah", "run", "--isolation=chroot", "--network=host"]
    for key, value in env.items():
        cmd += ["--env", f"{key}={value}"]
    for source, target in (volumes or {}).items():
        cmd += ["--volume", f"{source}:{target}"]
    cmd += [name, "--", *argv]
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            host.wrap(cmd), stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield Pod(proc, log, where)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        subprocess.run(["buildah", "rm", name], capture_output=True, timeout=60, check=False)
