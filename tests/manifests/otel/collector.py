"""The OpenTelemetry Collector built by scripts/build-otelcol, and the config we render for it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests import prepared
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
