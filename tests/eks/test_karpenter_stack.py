"""What of Karpenter's CloudFormation `cluster create` relies on (pure)."""

from __future__ import annotations

from tests.eks.standins import karpenter_template
from tubedemo.eks import karpenter_stack


def test_a_template_that_makes_everything_create_names_has_no_problem() -> None:
    doc = karpenter_stack.parse_template(karpenter_template())
    assert karpenter_stack.required_problems(doc) == []


def test_a_template_without_the_spot_rule_or_a_policy_is_named() -> None:
    doc = karpenter_stack.parse_template(karpenter_template())
    del doc["Resources"]["SpotInterruptionRule"]
    del doc["Resources"]["ZonalShiftPolicy"]
    assert karpenter_stack.required_problems(doc) == [
        "no managed policy KarpenterControllerZonalShiftPolicy-<cluster>",
        "no EventBridge rule for 'EC2 Spot Instance Interruption Warning'",
    ]


def test_short_forms_read_as_long_forms() -> None:
    doc = karpenter_stack.parse_template(
        "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n"
        "      QueueName: !Sub '${ClusterName}'\n      Arn: !GetAtt Q.Arn\n"
    )
    props = doc["Resources"]["Q"]["Properties"]
    assert props == {
        "QueueName": {"Fn::Sub": "${ClusterName}"},
        "Arn": {"Fn::GetAtt": ["Q", "Arn"]},
    }
