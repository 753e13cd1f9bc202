"""The one translator of Kubernetes failures into one-line ClusterErrors.

``api_error`` reads an ``ApiException`` (the API server's ``Status`` body) and ``unreachable``
a transport failure (urllib3/OSError, reduced to its root reason); ``translate`` wraps a block
of API calls with both. ``api.py``, ``watch.py``, ``ready_pods.py`` and ``gateway_proxy.py`` use
these instead of reading exceptions themselves. Messages say what failed and what to do next.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import urllib3
from kubernetes import client as k8s_client
from kubernetes.config.config_exception import ConfigException

from tubedemo.core.errors import ClusterError, first_line, one_line


class Unreachable(ClusterError):
    """The API server did not answer."""


class WrongContext(ClusterError):
    """The kubeconfig or the requested context does not exist."""


class CredentialsRejected(ClusterError):
    """The API server answered 401: expired or revoked credentials."""


class Forbidden(ClusterError):
    """RBAC said no (403)."""


class MissingApi(ClusterError):
    """A kind's API (usually a CRD) is not installed."""


class ApplyConflict(ClusterError):
    """Server-side apply found fields owned by another field manager."""


class NotFound(ClusterError):
    """The object does not exist."""


def root_reason(exc: BaseException) -> str:
    """The innermost ``reason`` of a transport error, shortened to what a person acts on."""
    seen: BaseException = exc
    reason = getattr(exc, "reason", None)
    while isinstance(reason, BaseException):
        seen = reason
        reason = getattr(reason, "reason", None)
    text = str(seen)
    for marker in ("Connection refused", "timed out", "Name or service not known", "certificate"):
        if marker.lower() in text.lower():
            return marker.lower()
    return first_line(text)[:160] if text.strip() else type(seen).__name__


def status_body(exc: k8s_client.ApiException) -> dict[str, Any]:
    """The API server's ``Status`` object of an ApiException ({} when it sent none)."""
    try:
        body = json.loads(exc.body or "{}")
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def status_message(exc: k8s_client.ApiException) -> str:
    """The Status message (else the HTTP reason), one line of at most 200 characters."""
    message = status_body(exc).get("message")
    return first_line(str(message or exc.reason or "error"))[:200]


def api_error(
    exc: k8s_client.ApiException, what: str, *, server: str, user: str = "?"
) -> ClusterError:
    """One line for an API server's refusal of ``what`` (e.g. ``GET /api/v1/...``)."""
    status = status_body(exc)
    message = one_line(str(status.get("message") or exc.reason or ""))
    if exc.status == 401:
        return CredentialsRejected(
            f"the API server at {server} rejected the credentials of user {user} "
            f"(expired or revoked); refresh them (e.g. `aws eks update-kubeconfig`) and retry"
        )
    if exc.status == 403:
        return Forbidden(
            f"forbidden: {message}; ask a cluster admin for rights or use another --context"
        )
    if exc.status == 404:
        return NotFound(f"not found: {what}")
    if exc.status == 409 and status.get("reason") == "Conflict" and "conflict" in message:
        return ApplyConflict(message)
    return ClusterError(f"{what} failed ({exc.status} {status.get('reason', '')}): {message}")


def unreachable(exc: BaseException, server: str, *, then: str) -> Unreachable:
    """One line for an API server that did not answer; ``then`` says what to do."""
    return Unreachable(f"cannot reach the Kubernetes API at {server} ({root_reason(exc)}); {then}")


@contextmanager
def translate(what: str, *, server: str, context: str, user: str = "?") -> Iterator[None]:
    """Within the block, every Kubernetes failure becomes a one-line ClusterError (cause kept)."""
    try:
        yield
    except k8s_client.ApiException as exc:
        raise api_error(exc, what, server=server, user=user) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise Unreachable(
            f"cannot reach the Kubernetes API at {server} (context {context}): "
            f"{root_reason(exc)}; check the cluster is up and the context is right (--context)"
        ) from exc
    except ConfigException as exc:
        raise CredentialsRejected(
            f"cannot get credentials for context {context}: {first_line(str(exc))}"
        ) from exc
