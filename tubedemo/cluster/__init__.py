"""Everything that talks to Kubernetes lives here (the only package importing `kubernetes`).

The door is ``api.connect(kubeconfig, context)``: an ``Api``, the one HTTP surface, whose every
failure ``errors`` turns into a one-line ClusterError. Decide, then do: ``plan`` decides
(pure); ``up``, ``teardown``, ``status`` and ``preflight`` carry out the plans.

The face: ``from tubedemo.cluster import connect, Api, Ref, NotFound, ...`` (``FACE`` below,
each name imported on first use); ``up.up``, ``teardown.execute`` and ``status.gather`` are
reached through their modules.

Modules: ``api``, ``errors``, ``plan``, ``up`` (apply in order, wait, prune), ``teardown``
(delete in safe order, wait for the GPU nodes), ``status`` (one screen), ``preflight`` (what
`up` needs, checked), ``exposure`` (the audience page's public address), ``watch`` (the
dashboard's list+watch caches, vLLM /metrics through the pod proxy), ``startup_logs`` (each
starting vLLM pod's log, for the waterfall), ``gateway_proxy`` (the
gateway Service through the API server), ``ready_pods`` (the lab's Ready vLLM pods);
``deadline`` (the GPU deadline ConfigMap the rendered CronJob enforces), ``audience_https``
(whether phones reach the page over https; pure), ``bootstrap`` (the Kubernetes side of
`cluster create` and `cluster delete`: the admin-token Secret, deleting what bills through a
controller and waiting until it is let go; the scaler's OTLP certificate), ``scaler_tls``
(that certificate and its CA; pure). What talks to AWS lives in tubedemo.aws and
tubedemo.prepare.

May import tubedemo.core, tubedemo.telemetry (watch.py and status.py build the Snapshot's
groups), and, for preflight's AWS account checks and the prepared talk's lookup, tubedemo.aws
and tubedemo.prepare; never audience/, screen/, talk/ or above.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tubedemo.core.face import lazy_face

if TYPE_CHECKING:  # the face's names for mypy (explicit re-exports)
    from tubedemo.cluster.api import Api as Api
    from tubedemo.cluster.api import connect as connect
    from tubedemo.cluster.errors import ApplyConflict as ApplyConflict
    from tubedemo.cluster.errors import CredentialsRejected as CredentialsRejected
    from tubedemo.cluster.errors import Forbidden as Forbidden
    from tubedemo.cluster.errors import MissingApi as MissingApi
    from tubedemo.cluster.errors import NotFound as NotFound
    from tubedemo.cluster.errors import Unreachable as Unreachable
    from tubedemo.cluster.errors import WrongContext as WrongContext
    from tubedemo.cluster.plan import Ref as Ref
    from tubedemo.cluster.ready_pods import ReadyPodWatch as ReadyPodWatch
    from tubedemo.cluster.watch import KubeWatchFeed as KubeWatchFeed

FACE = {
    "Api": "api",
    "connect": "api",
    "Ref": "plan",
    "ApplyConflict": "errors",
    "CredentialsRejected": "errors",
    "Forbidden": "errors",
    "MissingApi": "errors",
    "NotFound": "errors",
    "Unreachable": "errors",
    "WrongContext": "errors",
    "KubeWatchFeed": "watch",
    "ReadyPodWatch": "ready_pods",
}
"""The public names and the module each comes from, imported on first use (core.face)."""

__all__ = sorted(FACE)
__getattr__ = lazy_face(__name__, FACE)
