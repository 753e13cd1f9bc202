"""The images commands and `up`'s refusal at the CLI edge: one line and the family's exit code."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.cli import tubedemo

REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return tubedemo(*args, cwd=cwd)


def test_up_refuses_an_unset_gateway_image_before_touching_any_cluster(tmp_path: Path) -> None:
    done = _cli("up", cwd=tmp_path)  # no demo.yaml: the defaults, which set no image of ours
    assert done.returncode == 15
    assert done.stderr.strip().splitlines() == [
        "error: gateway.image is not set: run `tubedemo images push --registry R --write` "
        "(or set it in demo.yaml)"
    ]


def test_up_on_the_local_profile_also_wants_the_standin_image(tmp_path: Path) -> None:
    done = _cli("up", "--set", "profile=local", "--set", "gateway.image=r.example/g:1")
    assert done.returncode == 15
    assert "local.vllm_stand_in_image is not set" in done.stderr


def test_render_of_unset_images_works_offline_with_the_placeholder(tmp_path: Path) -> None:
    done = _cli("render", "--set", "profile=local", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "image: tubedemo.invalid/gateway:not-pushed" in done.stdout
    assert "image: tubedemo.invalid/vllm-standin:not-pushed" in done.stdout


def test_push_to_a_url_instead_of_a_registry_is_a_usage_error() -> None:
    done = _cli("images", "push", "--registry", "https://ghcr.io/me")
    assert done.returncode == 2
    assert "is not a registry" in done.stderr


def test_an_unknown_tool_is_a_usage_error_naming_the_known_ones() -> None:
    done = _cli("images", "build", "--tool", "kaniko")
    assert done.returncode == 2
    assert "--tool kaniko: use one of docker, podman, buildah" in done.stderr


def test_images_help_states_the_default_platform() -> None:
    done = _cli("images", "--help")
    assert done.returncode == 0
    assert "linux/amd64" in " ".join(done.stdout.split())
