"""Where the prepared weights live in S3, and where vLLM reads its weights from. Pure.

`tubedemo prepare` copies the model to the per-account bucket (DemoConfig.s3_bucket) under
``models/<name>/<revision>/`` and writes a marker object beside that prefix last, so a
half-finished copy is never mistaken for a prepared one; `up` looks for the marker, the render
points vLLM at the prefix, vLLM's IAM policy grants it. The config keys stay in demo.yaml
(model.name, model.revision, model.weights_uri); this module is their S3 meaning.
"""

from __future__ import annotations

import hashlib

from tubedemo.core.config import AUTO, DemoConfig

WEIGHTS_PREFIX = "models"
"""Top-level S3 prefix of prepared weights in the per-account bucket."""
MARKER_SUFFIX = ".tubedemo-prepared.json"
"""The marker's key is the prefix without its slash plus this."""


def weights_key(config: DemoConfig) -> str:
    """S3 key prefix (ends in /) of the weights `tubedemo prepare` copies: model and revision,
    so two models or revisions never share one."""
    return f"{WEIGHTS_PREFIX}/{config.model.name}/{config.model.revision}/"


def weights_uri(config: DemoConfig) -> str:
    """s3:// URI of the prepared weights in the per-account bucket."""
    return f"s3://{config.s3_bucket}/{weights_key(config)}"


def marker_key(config: DemoConfig) -> str:
    """The object written after every weight file: its presence means the copy is complete.
    Beside the prefix, not inside it, so vLLM never lists it as a model file."""
    return weights_key(config).rstrip("/") + MARKER_SUFFIX


def weights_location(config: DemoConfig) -> str | None:
    """Where vLLM streams the weights from: model.weights_uri, the prepared copy (auto), or
    None: the hub (empty, or the local profile). `up` has checked the prepared copy exists
    before it renders."""
    uri = config.model.weights_uri
    if not uri or config.profile != "eks":
        return None
    return weights_uri(config) if uri == AUTO else uri


COMPILE_CACHE_PREFIX = "compile-cache"
"""Top-level S3 prefix of vLLM's torch.compile caches in the per-account bucket."""


def compile_cache_key(config: DemoConfig) -> str:
    """S3 key prefix (ends in /) of vLLM's compile cache for this image and model section: any
    change there (a flag, the graph sizes, the image) starts a new cache, which its first
    replica fills, rather than leaving the complete old one to be pulled and never refilled."""
    shape = f"{config.model.image}\n{config.model.model_dump_json()}"
    return f"{COMPILE_CACHE_PREFIX}/{hashlib.sha256(shape.encode()).hexdigest()[:16]}/"


def compile_cache_rendered(config: DemoConfig) -> bool:
    """The render keeps vLLM's compile cache in S3: model.compile_cache, with the weights
    streamed from S3 (the eks profile; the pod then has the IRSA role the cache needs)."""
    return config.model.compile_cache and weights_location(config) is not None
