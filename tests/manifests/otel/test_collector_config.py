"""The rendered collector config is loaded by the real collector (built from the Go module proxy
with the collector's own builder, at the release of the image we render)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tubedemo.core.config import OtelConfig

from .collector import REPO, components_used, otelcol, rendered_config

pytestmark = pytest.mark.integration

MANIFEST = REPO / "tools" / "otelcol" / "manifest.yaml"


def _validate(config_text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "config.yaml"
    path.write_text(config_text)
    return subprocess.run(
        [str(otelcol()), "validate", f"--config=file:{path}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("profile", ["eks", "local"])
def test_rendered_config_passes_the_collectors_own_validate(profile: str, tmp_path: Path) -> None:
    result = _validate(rendered_config({"profile": profile}), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_validate_refuses_a_broken_rename_statement(tmp_path: Path) -> None:
    """The check can fail: an OTTL statement with a misspelt path is refused by the collector."""
    broken = rendered_config({}).replace("replace_pattern(name,", "replace_pattern(nmae,")
    result = _validate(broken, tmp_path)
    assert result.returncode != 0
    assert "nmae" in result.stderr


def test_the_build_has_exactly_the_components_the_rendered_config_uses() -> None:
    listed = yaml.safe_load(
        subprocess.run(
            [str(otelcol()), "components"], capture_output=True, text=True, check=True, timeout=60
        ).stdout
    )
    built = {
        kind: {entry["name"] for entry in listed.get(kind) or []}
        for kind in ("receivers", "processors", "exporters", "extensions")
    }
    for profile in ("eks", "local"):
        assert components_used(rendered_config({"profile": profile})) == built


def test_builder_components_and_rendered_image_are_one_release() -> None:
    image_tag = OtelConfig().collector_image.rsplit(":", 1)[1]
    text = MANIFEST.read_text()
    versions = set(re.findall(r"^\s+(?:- gomod: \S+|version:) v?(\S+)$", text, re.M))
    assert versions == {image_tag}, f"{MANIFEST} pins {versions}, the image is {image_tag}"
