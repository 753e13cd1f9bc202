"""demo.yaml -> Kubernetes manifests, checked before anything reaches a cluster.

The doors: ``render.render(cfg)`` (pure: config in, the objects in apply order out) and
``ensure_valid(objects, crds)`` (raises ValidationFailed with one line per problem). The face:
``from tubedemo.manifests import ensure_valid, to_yaml, default_demo_yaml, ...`` (``FACE``
below, each name imported on first use); ``render`` is reached through its module.

Modules: ``render`` (the manifests from templates/), ``validate`` (Kubernetes' OpenAPI schema,
the upstream KEDA/Karpenter CRDs, the KEDA formula), ``crds`` (those CRDs from their pinned
releases, cached), ``init_file`` (the commented demo.yaml `tubedemo init` writes).

May import tubedemo.core, and tubedemo.aws.s3_layout (where the prepared weights live in S3, for
vLLM's args); never boto3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tubedemo.core.face import lazy_face

if TYPE_CHECKING:  # the face's names for mypy (explicit re-exports)
    from tubedemo.manifests.crds import load_crds as load_crds
    from tubedemo.manifests.init_file import default_demo_yaml as default_demo_yaml
    from tubedemo.manifests.render import object_ref as object_ref
    from tubedemo.manifests.render import talk_window as talk_window
    from tubedemo.manifests.render import to_yaml as to_yaml
    from tubedemo.manifests.render import write_files as write_files
    from tubedemo.manifests.validate import KUBERNETES_VERSION as KUBERNETES_VERSION
    from tubedemo.manifests.validate import ensure_valid as ensure_valid
    from tubedemo.manifests.validate import load_manifest_files as load_manifest_files
    from tubedemo.manifests.validate import validate_manifests as validate_manifests

FACE = {
    "object_ref": "render",
    "talk_window": "render",
    "to_yaml": "render",
    "write_files": "render",
    "KUBERNETES_VERSION": "validate",
    "ensure_valid": "validate",
    "load_manifest_files": "validate",
    "validate_manifests": "validate",
    "load_crds": "crds",
    "default_demo_yaml": "init_file",
}
"""The public names and the module each comes from, imported on first use (core.face)."""

__all__ = sorted(FACE)
__getattr__ = lazy_face(__name__, FACE)
