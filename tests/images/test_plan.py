"""The pure part of `tubedemo images`: references, registries, and the demo.yaml edit."""

from __future__ import annotations

import pytest
import yaml

from tubedemo.core.errors import UsageError
from tubedemo.images import plan

DIGEST = "sha256:" + "0123456789abcdef" * 4
INIT_LIKE = """\
# The FastAPI gateway the phones talk to.
gateway:
  # Gateway image (FastAPI + the built page) from gateway/Dockerfile.
  image: null   # set by images push
  # Gateway HTTP port.
  port: 8080

# Settings only the local profile uses.
local:
  # vLLM stand-in image.
  vllm_stand_in_image: null
"""


def test_edit_sets_the_value_and_keeps_every_comment_and_other_line() -> None:
    ref = f"1.dkr.ecr.eu-west-1.amazonaws.com/tubedemo/gateway:0.1.0@{DIGEST}"
    edited = plan.edit_yaml(INIT_LIKE, "gateway.image", ref)
    assert yaml.safe_load(edited)["gateway"]["image"] == ref
    before, after = INIT_LIKE.splitlines(), edited.splitlines()
    assert [a for a, b in zip(before, after, strict=True) if a != b] == [
        "  image: null   # set by images push"
    ]
    assert f'  image: "{ref}"   # set by images push' in after


def test_edit_adds_a_missing_field_to_its_section_with_the_sections_indent() -> None:
    text = "local:\n    other: 1\n\nk6:\n  binary: null\n"
    edited = plan.edit_yaml(text, "local.vllm_stand_in_image", "r/x:1")
    assert yaml.safe_load(edited) == {
        "local": {"other": 1, "vllm_stand_in_image": "r/x:1"},
        "k6": {"binary": None},
    }
    assert '    vllm_stand_in_image: "r/x:1"' in edited.splitlines()


def test_edit_adds_a_missing_section_at_the_end() -> None:
    edited = plan.edit_yaml("profile: local", "gateway.image", "r/g:1")
    assert yaml.safe_load(edited) == {"profile": "local", "gateway": {"image": "r/g:1"}}


def test_edit_of_a_flow_style_section_asks_for_a_hand_edit_instead_of_guessing() -> None:
    with pytest.raises(UsageError, match=r"set it by hand: gateway.image: \"r/g:1\""):
        plan.edit_yaml("gateway: {port: 8080}\n", "gateway.image", "r/g:1")


def test_ecr_registries_are_recognised_by_host_and_give_account_and_region() -> None:
    found = plan.ecr_registry("123456789012.dkr.ecr.us-west-2.amazonaws.com")
    assert found == plan.EcrRegistry("123456789012", "us-west-2")
    assert plan.ecr_registry("ghcr.io/my-org") is None
    assert plan.ecr_registry("127.0.0.1:5000") is None


@pytest.mark.parametrize("bad", ["https://ghcr.io/x", "GHCR.io/x", "", "a b"])
def test_a_registry_with_a_scheme_capitals_or_spaces_is_a_usage_error(bad: str) -> None:
    with pytest.raises(UsageError, match="is not a registry"):
        plan.check_registry(bad)


def test_references_are_tag_and_digest_under_the_registrys_tubedemo_prefix() -> None:
    gateway = plan.select(["gateway"])[0]
    repo = gateway.repository("ghcr.io/my-org/")
    assert repo == "ghcr.io/my-org/tubedemo/gateway"
    assert plan.pinned(repo, "0.1.0", DIGEST) == f"{repo}:0.1.0@{DIGEST}"
    with pytest.raises(ValueError):
        plan.pinned(repo, "0.1.0", "latest")


def test_an_unknown_image_name_lists_the_known_ones() -> None:
    with pytest.raises(UsageError, match="unknown image fleet-sim; images: gateway, vllm-standin"):
        plan.select(["fleet-sim"])
