"""validate: real Kubernetes schemas and real upstream CRDs, strictly."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from tubedemo.core.config import config_from_dict
from tubedemo.core.errors import ValidationFailed
from tubedemo.manifests.render import render, write_files
from tubedemo.manifests.validate import ensure_valid, load_manifest_files, validate_manifests


@pytest.mark.parametrize(
    "raw",
    [
        {"profile": "eks"},
        {"profile": "local", "storage": {"kind": "local"}, "scaling": {"scaler": "external"}},
        {
            "talk": {"window_start": "2026-12-03T14:00:00Z"},
            "web": {"ingress": {"certificate_arn": "arn:aws:acm:eu:1:certificate/x"}},
            "cluster": {"account_id": "123456789012"},
            "storage": {"create_storage_class": True},
            "gpu_pool": {
                "capacity_types": ["spot", "on-demand"],
                "image_snapshot_id": "snap-0123456789abcdef0",
            },
            "model": {"weights_uri": "s3://weights/llama-3.1-8b-instruct/"},
        },
        {"web": {"exposure": "loadbalancer"}},
        {"scaling": {"warm_capacity": {"replicas": 2, "until": "steady"}}},
    ],
)
def test_every_rendered_object_passes_its_schema(raw: dict, crd_docs: list) -> None:
    assert validate_manifests(render(config_from_dict(raw)), crd_docs) == []


def _broken(kind: str, crd_docs: list, change: Any) -> list[str]:
    manifests = copy.deepcopy(render(config_from_dict({})))
    obj = next(o for o in manifests if o["kind"] == kind)
    change(obj)
    return [str(p) for p in validate_manifests(manifests, crd_docs)]


def test_clamp_min_in_the_scaled_object_is_refused(crd_docs: list) -> None:
    def change(so: dict) -> None:
        so["spec"]["advanced"]["scalingModifiers"]["formula"] = "clamp_min(queue * 50, 1)"

    problems = _broken("ScaledObject", crd_docs, change)
    assert len(problems) == 1
    assert "max(queue * 50, 1)" in problems[0]


def test_unknown_field_in_a_crd_object_is_refused(crd_docs: list) -> None:
    problems = _broken("ScaledObject", crd_docs, lambda so: so["spec"].update(pollingIntervall=5))
    assert problems == [
        "ScaledObject/tubedemo/vllm at spec: unknown field ('pollingIntervall' was unexpected)"
    ]


def test_bad_nodepool_budget_is_refused(crd_docs: list) -> None:
    def change(pool: dict) -> None:
        pool["spec"]["disruption"]["budgets"][0]["nodes"] = "abc"

    problems = _broken("NodePool", crd_docs, change)
    assert len(problems) == 1
    assert "spec.disruption.budgets[0].nodes: 'abc' does not match" in problems[0]


def test_unknown_field_in_a_kubernetes_object_is_refused(crd_docs: list) -> None:
    def change(dep: dict) -> None:
        dep["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"

    problems = _broken("Deployment", crd_docs, change)
    assert len(problems) == 1 and "unknown field" in problems[0]


def test_unnamed_trigger_is_refused_when_a_formula_uses_triggers(crd_docs: list) -> None:
    problems = _broken("ScaledObject", crd_docs, lambda so: so["spec"]["triggers"][0].pop("name"))
    assert any("without `name`" in p for p in problems)


def test_unnamed_trigger_alone_is_one_problem_not_also_an_unknown_formula_name(
    crd_docs: list,
) -> None:
    problems = _broken("ScaledObject", crd_docs, lambda so: so["spec"]["triggers"][0].pop("name"))
    assert len(problems) == 1 and "spec.triggers[0]: a trigger without `name`" in problems[0]


def test_formula_naming_no_trigger_is_refused_when_every_trigger_has_a_name(
    crd_docs: list,
) -> None:
    def change(so: dict) -> None:
        so["spec"]["advanced"]["scalingModifiers"]["formula"] = "max(queu * 50, 1)"

    problems = _broken("ScaledObject", crd_docs, change)
    assert len(problems) == 1 and "'queu' is not a trigger name" in problems[0]


def test_kind_without_any_schema_is_refused(crd_docs: list) -> None:
    odd = {"apiVersion": "example.com/v1", "kind": "Gizmo", "metadata": {"name": "g"}}
    problems = validate_manifests([odd], crd_docs)
    assert "no schema for example.com/v1 Gizmo" in str(problems[0])


def test_ensure_valid_raises_one_message_listing_problems(crd_docs: list) -> None:
    manifests = render(config_from_dict({}))
    manifests[-1]["spec"]["bogus"] = True
    with pytest.raises(ValidationFailed, match=r"1 problem in the manifests:\n  ScaledObject"):
        ensure_valid(manifests, crd_docs)


def test_rendered_folder_round_trips_through_the_loader(tmp_path: Path, crd_docs: list) -> None:
    write_files(render(config_from_dict({})), tmp_path)
    assert validate_manifests(load_manifest_files([tmp_path]), crd_docs) == []


def test_loader_refuses_documents_that_are_not_objects(tmp_path: Path) -> None:
    bad = tmp_path / "x.yaml"
    bad.write_text(yaml.safe_dump({"hello": "world"}))
    with pytest.raises(ValidationFailed, match="without apiVersion and kind"):
        load_manifest_files([bad])
