"""The one place that talks HTTP to the Kubernetes API, and turns every failure into one line.

A deliberately small surface over the official client's ApiClient: JSON in, JSON out, paths
computed from a discovered REST mapping. Errors become ClusterError subclasses (translated in
``tubedemo.cluster.errors``) whose message names what failed and what to do next.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

from tubedemo.cluster.errors import (
    ApplyConflict,
    CredentialsRejected,
    Forbidden,
    MissingApi,
    NotFound,
    Unreachable,
    WrongContext,
    translate,
)
from tubedemo.cluster.plan import Ref
from tubedemo.core.errors import ClusterError, first_line

FIELD_MANAGER = "tubedemo"
_TIMEOUT = (5.0, 30.0)  # (connect, read) seconds: a dead endpoint fails fast, lists may be big


@dataclass(frozen=True)
class ResourceInfo:
    plural: str
    namespaced: bool


@dataclass
class Api:
    """A connection to one cluster through one kubeconfig context."""

    client: k8s_client.ApiClient
    context: str
    user: str
    server: str
    _mapping: dict[str, dict[str, ResourceInfo] | None] = field(default_factory=dict)

    # -- raw requests ------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        with self.translate(f"{method} {path}"):
            resp = self.client.call_api(
                path,
                method,
                query_params=list((query or {}).items()),
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
                _request_timeout=_TIMEOUT,
            )
        data = resp.data
        parsed: dict[str, Any] = json.loads(data) if data else {}
        return parsed

    def pod_text(self, namespace: str, pod: str, port: int, path: str) -> str:
        """GET a pod's own HTTP endpoint through the API server's pod proxy, as text (the API
        server reaches pod IPs that this machine cannot)."""
        where = f"/api/v1/namespaces/{namespace}/pods/{pod}:{port}/proxy{path}"
        with self.translate(f"GET {where}"):
            resp = self.client.call_api(
                where,
                "GET",
                header_params={"Accept": "text/plain"},
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
                # short: the caller polls, and a pod that is not listening yet answers 503 fast
                _request_timeout=(5.0, 10.0),
            )
        return bytes(resp.data).decode("utf-8", errors="replace")

    def translate(self, what: str) -> AbstractContextManager[None]:
        """Map transport and API failures to one-line ClusterErrors (cluster.errors)."""
        return translate(what, server=self.server, context=self.context, user=self.user)

    # -- REST mapping ------------------------------------------------------------------------

    def resource(self, api_version: str, kind: str) -> ResourceInfo:
        """Plural and scope of a kind, discovered once per group/version."""
        if api_version not in self._mapping:
            base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            try:
                listing = self.request("GET", base)
            except NotFound:
                self._mapping[api_version] = None
            else:
                self._mapping[api_version] = {
                    r["kind"]: ResourceInfo(r["name"], bool(r["namespaced"]))
                    for r in listing.get("resources", [])
                    if "/" not in r["name"]
                }
        kinds = self._mapping[api_version]
        if kinds is None or kind not in kinds:
            raise MissingApi(
                f"the cluster does not serve {kind} ({api_version}): {_install_hint(api_version)}"
            )
        return kinds[kind]

    def forget_mapping(self) -> None:
        self._mapping.clear()

    def path(self, ref: Ref, *, collection: bool = False) -> str:
        info = self.resource(ref.api_version, ref.kind)
        base = "/api/v1" if ref.api_version == "v1" else f"/apis/{ref.api_version}"
        if info.namespaced:
            if not ref.namespace:
                raise ClusterError(f"{ref} is namespaced but has no namespace")
            base += f"/namespaces/{ref.namespace}"
        base += f"/{info.plural}"
        return base if collection else f"{base}/{ref.name}"

    # -- object verbs ------------------------------------------------------------------------

    def get(self, ref: Ref) -> dict[str, Any] | None:
        try:
            return self.request("GET", self.path(ref))
        except NotFound:
            return None

    def list(
        self, api_version: str, kind: str, namespace: str = "", selector: str = ""
    ) -> list[dict[str, Any]]:
        ref = Ref(api_version, kind, namespace, "")
        query = {"labelSelector": selector} if selector else {}
        items = self.request("GET", self.path(ref, collection=True), query=query)
        objects = items.get("items", [])
        for obj in objects:  # list items omit apiVersion/kind
            obj.setdefault("apiVersion", api_version)
            obj.setdefault("kind", kind)
        return list(objects)

    def apply(
        self,
        manifest: Mapping[str, Any],
        *,
        dry_run: bool = False,
        force: bool = False,
        field_manager: str = FIELD_MANAGER,
    ) -> dict[str, Any]:
        """Server-side apply, by default with field manager `tubedemo`."""
        ref = Ref.of(manifest)
        query = {"fieldManager": field_manager, "force": "true" if force else "false"}
        if dry_run:
            query["dryRun"] = "All"
        try:
            return self.request(
                "PATCH",
                self.path(ref),
                body=dict(manifest),
                query=query,
                content_type="application/apply-patch+yaml",
            )
        except ApplyConflict as exc:
            raise ApplyConflict(
                f"{ref}: {exc.message}; another tool changed these fields — re-run with "
                f"--force-conflicts to take them over, or undo that change"
            ) from exc

    def apply_configmap_key(self, ref: Ref, key: str, value: str, *, field_manager: str) -> None:
        """Own one key of a ConfigMap under its own field manager (server-side apply, forced):
        `up` re-applying the ConfigMap then never resets a value set mid-talk."""
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": ref.name, "namespace": ref.namespace},
            "data": {key: value},
        }
        self.apply(body, force=True, field_manager=field_manager)

    def patch_merge(self, ref: Ref, patch: Mapping[str, Any]) -> dict[str, Any]:
        return self.request(
            "PATCH", self.path(ref), body=dict(patch), content_type="application/merge-patch+json"
        )

    def delete(self, ref: Ref) -> bool:
        """Delete (background propagation); False when it was already gone."""
        try:
            self.request("DELETE", self.path(ref), body={"propagationPolicy": "Background"})
        except NotFound:
            return False
        return True


def connect(kubeconfig: Path | str | None = None, context: str | None = None) -> Api:
    """Open the kubeconfig (default: $KUBECONFIG or ~/.kube/config) at a context."""
    path = Path(kubeconfig) if kubeconfig else None
    if path is None:
        env = os.environ.get("KUBECONFIG", "")
        path = Path(env.split(os.pathsep)[0]) if env else Path.home() / ".kube" / "config"
    if not path.is_file():
        raise WrongContext(
            f"kubeconfig {path} does not exist; pass --kubeconfig or set up access "
            f"(e.g. `aws eks update-kubeconfig --name <cluster>`)"
        )
    try:
        contexts, current = k8s_config.list_kube_config_contexts(config_file=str(path))
    except (ConfigException, OSError, ValueError, TypeError, AttributeError, yaml.YAMLError) as exc:
        raise WrongContext(f"kubeconfig {path} is unusable: {first_line(str(exc))}") from exc
    names = [c["name"] for c in contexts or []]
    chosen = context or (current or {}).get("name")
    if not chosen:
        raise WrongContext(f"kubeconfig {path} has no current context; pass --context")
    if chosen not in names:
        raise WrongContext(
            f"context {chosen!r} is not in {path} (available: {', '.join(names) or 'none'}); "
            f"pass --context or fix cluster.context in demo.yaml"
        )
    entry = next(c for c in contexts if c["name"] == chosen)
    user = str(entry.get("context", {}).get("user", "?"))
    configuration = k8s_client.Configuration()
    try:
        k8s_config.load_kube_config(
            config_file=str(path),
            context=chosen,
            client_configuration=configuration,
            persist_config=False,
        )
    except (ConfigException, OSError, ValueError) as exc:
        raise CredentialsRejected(
            f"cannot load credentials for context {chosen}: {first_line(str(exc))}"
        ) from exc
    configuration.retries = 0
    return Api(k8s_client.ApiClient(configuration), chosen, user, str(configuration.host))


_HINTS = {
    "keda.sh": "install KEDA (README: cluster prerequisites)",
    "karpenter.sh": "install Karpenter (README: cluster prerequisites)",
    "karpenter.k8s.aws": "install Karpenter's AWS provider (README: cluster prerequisites)",
    "monitoring.coreos.com": "install the Prometheus operator CRDs or disable that object",
}


def _install_hint(api_version: str) -> str:
    group = api_version.rpartition("/")[0]
    return _HINTS.get(group, f"install the CRDs for {group or 'core'}")


__all__ = [
    "Api",
    "ApplyConflict",
    "CredentialsRejected",
    "Forbidden",
    "MissingApi",
    "NotFound",
    "ResourceInfo",
    "Unreachable",
    "WrongContext",
    "connect",
]
