"""Run one of our images the way a kubelet would run the rendered Deployment's container.

The container spec comes from ``tubedemo render`` (the CLI's real output). Its command line
follows Kubernetes' rules against the image's own config (``command`` replaces ENTRYPOINT,
``args`` replaces CMD), its env is exactly the rendered ``env`` (values from Secrets come from
the test, as the kubelet would take them from the Secret; a Secret the test does not know
fails naming it), plus what every pod gets (KUBERNETES_SERVICE_HOST/PORT). It runs with
``buildah run --isolation chroot --network host`` inside a network namespace of the test's
own (tests/netns.py), so the rendered ports are used unchanged and nothing else on the machine
is in the way.

The rendered securityContext (pod and container, the container's winning) is applied as far as
buildah 1.28's chroot isolation can (``Security``): runAsUser/runAsGroup as ``--user``,
runAsNonRoot checked as the kubelet checks it (a root user refuses to start), capabilities as
``--cap-drop``/``--cap-add``, allowPrivilegeEscalation: false as no_new_privs (buildah run is
started under ``setpriv --no-new-privs``, which the container's process inherits; buildah's own
``--security-opt no-new-privileges`` answers "not supported"), readOnlyRootFilesystem as the
container's root mounted read-only (bind-mounted over itself read-only in a mount namespace of
that run only, the rendered volumes still writable). seccompProfile RuntimeDefault: chroot
isolation always applies buildah's default profile (containers-common's, the one CRI-O and
podman call RuntimeDefault). Not reproduced: fsGroup (the test makes the volumes writable), the
capability bounding set (chroot isolation keeps CAP_SETUID in it whatever ``--cap-drop`` says;
the effective, permitted, inheritable and ambient sets are empty), and resource limits. With a
read-only root buildah 1.28 panics while cleaning up after the process ends (its logger is nil
when it reports that it cannot remove what it put there); the process itself is unaffected.
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
class Security:
    """What ``buildah run`` applies of a rendered securityContext (see the module's docstring)."""

    user: str | None
    """``--user`` uid:gid (runAsUser/runAsGroup), or None for the image's USER."""
    cap_drop: tuple[str, ...]
    cap_add: tuple[str, ...]
    no_new_privs: bool
    """allowPrivilegeEscalation: false."""
    read_only_root: bool


def security(pod: dict[str, Any], container: dict[str, Any], image_user: str) -> Security:
    """The effective securityContext (container over pod) as buildah options; runAsNonRoot with
    a root user fails as the kubelet refuses such a container."""
    merged = {**pod, **container}
    uid = merged.get("runAsUser")
    gid = merged.get("runAsGroup")
    user = f"{uid}:{gid if gid is not None else uid}" if uid is not None else None
    effective = str(uid) if uid is not None else (image_user.split(":")[0] or "0")
    if merged.get("runAsNonRoot") and effective in ("0", "root"):
        raise AssertionError(
            f"runAsNonRoot is set but the container would run as {effective!r} (the image's "
            f"USER {image_user!r} and no runAsUser): the kubelet refuses to start it"
        )
    caps = merged.get("capabilities") or {}
    return Security(
        user=user,
        cap_drop=tuple(caps.get("drop") or ()),
        cap_add=tuple(caps.get("add") or ()),
        no_new_privs=merged.get("allowPrivilegeEscalation") is False,
        read_only_root=bool(merged.get("readOnlyRootFilesystem")),
    )


@dataclass(frozen=True)
class Container:
    """One rendered container and the Deployment it belongs to."""

    deployment: str
    spec: dict[str, Any]
    pod_security: dict[str, Any]
    """The pod's securityContext (what the container's own does not say, it says)."""

    def security(self, image: str) -> Security:
        return security(
            self.pod_security,
            self.spec.get("securityContext") or {},
            str(image_config(image).get("User") or ""),
        )

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
            pod = obj["spec"]["template"]["spec"]
            return Container(deployment, pod["containers"][0], pod.get("securityContext") or {})
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
    secure: Security | None = None,
) -> Iterator[Pod]:
    """The image's container running ``argv`` with ``env`` inside ``host``'s namespace, under
    ``secure`` when given (the rendered securityContext, ``Container.security``)."""
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
    if secure is not None:
        cmd += [f"--user={secure.user}"] if secure.user else []
        cmd += [f"--cap-drop={c}" for c in secure.cap_drop]
        cmd += [f"--cap-add={c}" for c in secure.cap_add]
    cmd += [name, "--", *argv]
    if secure is not None and secure.no_new_privs:
        cmd = ["setpriv", "--no-new-privs", *cmd]
    if secure is not None and secure.read_only_root:
        cmd = _read_only_root(name, list((volumes or {}).values()), cmd)
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
        if secure is not None and secure.read_only_root:
            subprocess.run(["buildah", "umount", name], capture_output=True, timeout=60)
        subprocess.run(["buildah", "rm", name], capture_output=True, timeout=60, check=False)


# What buildah run bind-mounts into the root: their mount points must exist before it is
# read-only (on a writable root buildah creates them).
_MOUNT_POINTS = ("run/.containerenv", "etc/hosts", "etc/resolv.conf", "etc/hostname")


def _read_only_root(name: str, volume_targets: list[str], cmd: list[str]) -> list[str]:
    """``cmd`` (a buildah run of container ``name``) wrapped so the container's root is
    read-only: mounted now (buildah run reuses the mount), its mount points made, then bound
    read-only over itself in a mount namespace of that run alone."""
    root = Path(
        subprocess.run(
            ["buildah", "mount", name], capture_output=True, text=True, timeout=60, check=True
        ).stdout.strip()
    )
    for target in volume_targets:
        (root / target.lstrip("/")).mkdir(parents=True, exist_ok=True)
    for point in _MOUNT_POINTS:
        path = root / point
        if path.exists() or path.is_symlink():  # a symlink may point anywhere: never follow it
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    remount = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    return [
        "unshare",
        "--mount",
        "--propagation=private",
        "--",
        "sh",
        "-c",
        remount,
        str(root),
        *cmd,
    ]
