"""Karpenter's own CloudFormation (getting started, v1.14): where it comes from, what of it we
rely on (pure).

The template is Karpenter's, downloaded at the pinned tag from the URL its getting-started guide
uses and kept on disk beside the ClusterConfig; it is not in the karpenter-provider-aws Go module
(website/ is a Go module of its own, `github.com/karpenter`, which no module proxy serves).
Before it is deployed, `required_problems` checks it still makes what the rest of `cluster
create` names: the node role, the six controller policies, the interruption queue and a rule
that sends spot interruption warnings to it.
"""

from __future__ import annotations

from typing import Any

import yaml

from tubedemo.core.config import DemoConfig
from tubedemo.eks import pins
from tubedemo.eks.eksctl_config import KARPENTER_POLICIES

TEMPLATE_URL = (
    "https://raw.githubusercontent.com/aws/karpenter-provider-aws/v{version}/website/content/en/"
    "preview/getting-started/getting-started-with-karpenter/cloudformation.yaml"
)
"""Karpenter's guide fetches its CloudFormation from here (at the release tag, `preview` is
that release's documentation)."""

TEMPLATE_FILE = "karpenter-cloudformation.yaml"
"""Its name beside the ClusterConfig."""

SPOT_INTERRUPTION = "EC2 Spot Instance Interruption Warning"


def template_url() -> str:
    return TEMPLATE_URL.format(version=pins.KARPENTER)


def stack_name(cfg: DemoConfig) -> str:
    """The stack name Karpenter's guide uses."""
    return f"Karpenter-{cfg.cluster.name}"


class _CloudFormationLoader(yaml.SafeLoader):
    """Reads CloudFormation's short forms (!Sub, !GetAtt, ...) as their long forms."""


def _short_form(tag: str) -> Any:
    key = "Ref" if tag == "Ref" else f"Fn::{tag}"

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {key: value}

    return construct


for _tag in ("Ref", "Sub", "GetAtt", "Join", "If", "Equals", "Select", "Split", "Not", "And"):
    _CloudFormationLoader.add_constructor(f"!{_tag}", _short_form(_tag))


def parse_template(text: str) -> dict[str, Any]:
    """The template as data (CloudFormation's short forms read as long forms)."""
    doc = yaml.load(text, Loader=_CloudFormationLoader)  # a SafeLoader: builds plain data
    if not isinstance(doc, dict):
        raise ValueError("not a CloudFormation template (no mapping at the top)")
    return doc


def _sub_text(value: Any) -> str:
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return str(sub[0] if isinstance(sub, list) else sub)
    return str(value)


def required_problems(doc: dict[str, Any]) -> list[str]:
    """What the template no longer makes of what `cluster create` relies on ([] when all)."""
    resources: dict[str, Any] = doc.get("Resources") or {}
    problems = []
    if "ClusterName" not in (doc.get("Parameters") or {}):
        problems.append("no ClusterName parameter")
    by_type: dict[str, list[dict[str, Any]]] = {}
    for resource in resources.values():
        by_type.setdefault(str(resource.get("Type", "")), []).append(
            resource.get("Properties") or {}
        )
    roles = [_sub_text(p.get("RoleName")) for p in by_type.get("AWS::IAM::Role", [])]
    if "KarpenterNodeRole-${ClusterName}" not in roles:
        problems.append("no node role KarpenterNodeRole-<cluster>")
    policies = {
        _sub_text(p.get("ManagedPolicyName")) for p in by_type.get("AWS::IAM::ManagedPolicy", [])
    }
    for prefix in KARPENTER_POLICIES:
        if f"{prefix}-${{ClusterName}}" not in policies:
            problems.append(f"no managed policy {prefix}-<cluster>")
    queues = [_sub_text(p.get("QueueName")) for p in by_type.get("AWS::SQS::Queue", [])]
    if "${ClusterName}" not in queues:
        problems.append("no interruption queue named after the cluster")
    patterns = [str(p.get("EventPattern")) for p in by_type.get("AWS::Events::Rule", [])]
    if not any(SPOT_INTERRUPTION in pattern for pattern in patterns):
        problems.append(f"no EventBridge rule for '{SPOT_INTERRUPTION}'")
    return problems
