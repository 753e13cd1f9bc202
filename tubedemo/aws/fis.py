"""The spot drill's AWS Fault Injection Service experiment: what `tubedemo drill spot` starts on
EKS, and the role FIS needs for it. Pure.

FIS's ``aws:ec2:send-spot-instance-interruptions`` action sends a running spot instance EC2's
own interruption notice (an "EC2 Spot Instance Interruption Warning" event, which reaches
Karpenter through its SQS queue exactly as a real one does), then interrupts it after
``durationBeforeInterruption`` (at least two minutes, EC2's notice). The target is one running
instance of the talk's NodePool: by its ARN when the drill picked the node of a replica, else
one of the instances carrying Karpenter's tags for the pool and the cluster, picked by FIS.
"""

from __future__ import annotations

import math
from typing import Any

from tubedemo.core.config import DemoConfig

FIS_ROLE = "tubedemo-fis"
"""The IAM role FIS assumes to interrupt the instance."""
ACTION = "aws:ec2:send-spot-instance-interruptions"
"""FIS's action that sends the two-minute notice and then interrupts."""
TARGET_TYPE = "aws:ec2:spot-instance"
"""The action's target resource type (its target key is ``SpotInstances``)."""
SHORTEST_NOTICE = 120.0
"""FIS refuses a durationBeforeInterruption under two minutes (EC2's notice)."""


def notice_duration(seconds: float) -> str:
    """durationBeforeInterruption as ISO 8601 minutes, never under two: 120 s -> ``PT2M``."""
    return f"PT{math.ceil(max(seconds, SHORTEST_NOTICE) / 60)}M"


def role_arn(config: DemoConfig) -> str:
    return f"arn:aws:iam::{config.account}:role/{FIS_ROLE}"


def instance_arn(config: DemoConfig, instance_id: str) -> str:
    return f"arn:aws:ec2:{config.cluster.region}:{config.account}:instance/{instance_id}"


def karpenter_tags(config: DemoConfig) -> dict[str, str]:
    """Tags Karpenter puts on every instance it launches for the talk's NodePool."""
    return {
        "karpenter.sh/nodepool": config.gpu_pool.name,
        f"kubernetes.io/cluster/{config.cluster.name}": "owned",
    }


def spot_drill_template(config: DemoConfig, instance_id: str | None = None) -> dict[str, Any]:
    """The FIS experiment template (CreateExperimentTemplate's input) that interrupts one GPU
    node: ``instance_id``, else one running spot instance of the NodePool chosen by FIS."""
    target: dict[str, Any] = {"resourceType": TARGET_TYPE}
    if instance_id is not None:
        target["resourceArns"] = [instance_arn(config, instance_id)]
        target["selectionMode"] = "ALL"
    else:
        target["resourceTags"] = karpenter_tags(config)
        target["filters"] = [{"path": "State.Name", "values": ["running"]}]
        target["selectionMode"] = "COUNT(1)"
    return {
        "description": f"tubedemo spot drill: one GPU node of NodePool {config.gpu_pool.name}",
        "targets": {"gpuNode": target},
        "actions": {
            "interrupt": {
                "actionId": ACTION,
                "description": "EC2's spot interruption notice, then the interruption",
                "parameters": {
                    "durationBeforeInterruption": notice_duration(config.twin.startup.spot_notice)
                },
                "targets": {"SpotInstances": "gpuNode"},
            }
        },
        "stopConditions": [{"source": "none"}],
        "roleArn": role_arn(config),
        "tags": {"tubedemo": "spot-drill", "Name": f"tubedemo-spot-drill-{config.cluster.name}"},
    }


def fis_role_policy() -> dict[str, Any]:
    """What FIS may do as FIS_ROLE: find the instance and send it the interruption."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["ec2:DescribeInstances"], "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": ["ec2:SendSpotInstanceInterruptions"],
                "Resource": "arn:aws:ec2:*:*:instance/*",
            },
        ],
    }


def fis_role_trust() -> dict[str, Any]:
    """Who may assume FIS_ROLE: the FIS service."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "fis.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
