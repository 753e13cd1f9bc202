"""Run a program as it runs in its pod, against a test control plane (the suite's or the lab's):
in-cluster Kubernetes config (KUBERNETES_SERVICE_HOST/PORT and a ServiceAccount's token,
namespace and CA at /var/run/secrets/kubernetes.io/serviceaccount, bind-mounted in a private
mount namespace of that process only), so the rendered ServiceAccount's RBAC is what it is
allowed to do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubernetes import client

from .fixtures import Kube


def token_dir(
    core: client.CoreV1Api, namespace: str, account: str, ca_file: Path, root: Path
) -> Path:
    """What the kubelet mounts into a pod of ``account``: its token and the CA. Returns the
    folder to bind over /run (``root``)."""
    token = core.create_namespaced_service_account_token(
        account, namespace, {"spec": {"expirationSeconds": 3600}}
    ).status.token
    sa = root / "secrets" / "kubernetes.io" / "serviceaccount"
    sa.mkdir(parents=True)
    (sa / "token").write_text(token)
    (sa / "namespace").write_text(namespace)
    (sa / "ca.crt").write_bytes(ca_file.read_bytes())
    return root


def service_account_dir(kube: Kube, namespace: str, account: str, root: Path) -> Path:
    """``token_dir`` for the suite's control plane."""
    assert kube.control_plane is not None
    ca = kube.control_plane.workdir / "pki" / "ca.crt"
    return token_dir(client.CoreV1Api(kube.api_client()), namespace, account, ca, root)


def in_cluster(
    server: str,
    run_root: Path,
    argv: list[str],
    env: dict[str, str] | None = None,
    read_only_root: bool = False,
) -> tuple[list[str], dict[str, str]]:
    """(argv, env) that start ``argv`` with ``run_root`` mounted at /run and the API server at
    ``server`` (https://127.0.0.1:PORT) as the in-cluster address; with ``read_only_root`` the
    root file system is read-only for that process (readOnlyRootFilesystem; ``run_root``, its
    volumes, stays writable)."""
    script = 'mount --bind "$0" /run && exec "$@"'
    if read_only_root:
        script = 'mount --bind "$0" /run && mount -o remount,bind,ro / && exec "$@"'
    wrapped = [
        "unshare", "--mount", "--propagation=private", "--",
        "sh", "-c", script, str(run_root), *argv,
    ]  # fmt: skip
    return wrapped, {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": server.rsplit(":", 1)[1],
        **(env or {}),
    }


def in_pod(
    kube: Kube,
    run_root: Path,
    argv: list[str],
    env: dict[str, str] | None = None,
    read_only_root: bool = False,
) -> tuple[list[str], dict[str, str]]:
    """``in_cluster`` for the suite's control plane."""
    assert kube.control_plane is not None
    return in_cluster(kube.control_plane.server, run_root, argv, env, read_only_root)


def as_security_context(
    pod: dict[str, Any], container: dict[str, Any], argv: list[str]
) -> list[str]:
    """``argv`` started as a rendered securityContext says (the container's fields over the
    pod's), as far as setpriv applies it to a process: runAsUser/runAsGroup (supplementary
    groups cleared), capabilities dropped from every set, the bounding set included, and
    allowPrivilegeEscalation: false as no_new_privs. readOnlyRootFilesystem is
    ``in_cluster``'s; seccompProfile RuntimeDefault is a container runtime's profile, which a
    bare process does not get."""
    merged = {**pod, **container}
    prefix = ["setpriv"]
    if "runAsUser" in merged:
        prefix += [f"--reuid={merged['runAsUser']}", "--clear-groups"]
        prefix += [f"--regid={merged.get('runAsGroup', merged['runAsUser'])}"]
    if "ALL" in (merged.get("capabilities") or {}).get("drop", []):
        prefix += ["--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all"]
    if merged.get("allowPrivilegeEscalation") is False:
        prefix += ["--no-new-privs"]
    return [*prefix, *argv]
