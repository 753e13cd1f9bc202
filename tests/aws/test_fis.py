"""The spot drill on EKS: the FIS experiment `tubedemo drill spot` would start, checked against
FIS's own API model (botocore's, offline), and the command as a presenter runs it."""

from __future__ import annotations

import json
from pathlib import Path

import botocore.session
from botocore.validate import ParamValidator

from tests.cli import tubedemo
from tubedemo.aws import fis
from tubedemo.core.config import config_from_dict


def fis_input_problems(template: dict[str, object]) -> str:
    """What FIS's CreateExperimentTemplate would refuse in ``template`` ('' when nothing)."""
    model = botocore.session.get_session().get_service_model("fis")
    shape = model.operation_model("CreateExperimentTemplate").input_shape
    report = ParamValidator().validate({"clientToken": "drill", **template}, shape)
    return report.generate_report()


def test_the_drill_sends_ec2s_two_minute_notice_to_one_node_of_the_pool() -> None:
    cfg = config_from_dict({"cluster": {"name": "talk", "account_id": "123456789012"}})
    template = fis.spot_drill_template(cfg)
    assert fis_input_problems(template) == ""
    (action,) = template["actions"].values()
    assert action["actionId"] == "aws:ec2:send-spot-instance-interruptions"
    assert action["parameters"] == {"durationBeforeInterruption": "PT2M"}
    target = template["targets"][action["targets"]["SpotInstances"]]
    assert target["resourceType"] == "aws:ec2:spot-instance"
    assert target["selectionMode"] == "COUNT(1)"
    assert target["resourceTags"] == {
        "karpenter.sh/nodepool": "tubedemo-gpu",
        "kubernetes.io/cluster/talk": "owned",
    }
    assert template["roleArn"] == "arn:aws:iam::123456789012:role/tubedemo-fis"


def test_a_named_instance_is_the_only_target_and_the_notice_is_never_under_two_minutes() -> None:
    cfg = config_from_dict(
        {"cluster": {"account_id": "123456789012"}, "twin": {"startup": {"spot_notice": "30s"}}}
    )
    template = fis.spot_drill_template(cfg, "i-0123456789abcdef0")
    assert fis_input_problems(template) == ""
    assert template["targets"]["gpuNode"]["resourceArns"] == [
        "arn:aws:ec2:us-west-2:123456789012:instance/i-0123456789abcdef0"
    ]
    assert template["actions"]["interrupt"]["parameters"]["durationBeforeInterruption"] == "PT2M"
    assert fis.notice_duration(300) == "PT5M"


def test_drill_spot_dry_run_prints_the_template_alone_on_stdout(tmp_path: Path) -> None:
    assert tubedemo("init", cwd=tmp_path).returncode == 0
    dry = tubedemo("drill", "spot", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    template = json.loads(dry.stdout)  # what `> drill.json` gives --cli-input-json
    assert template["actions"]["interrupt"]["actionId"] == fis.ACTION
    assert "tubedemo-fis" in dry.stderr and "fis.amazonaws.com" in dry.stderr
    # without --dry-run it starts nothing and says how to
    real = tubedemo("drill", "spot", cwd=tmp_path)
    assert real.returncode != 0
    assert "aws fis start-experiment" in real.stderr
