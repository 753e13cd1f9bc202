"""RECORDER of eksctl and helm (see __init__.py): `recorder.py eksctl|helm ARGS...`.

Every call is appended to $TUBEDEMO_RECORD/calls.jsonl with its argv and the content of the
files it names (-f, --values). Then the real tool judges it, and the recorder exits as the tool
did when the tool refuses:
- every command line: the real tool parses its flags (`<argv> --help`: cobra parses the flags
  before it looks at --help, so an unknown flag or a bad value fails);
- `eksctl create cluster -f`: the real eksctl loads, defaults and validates the ClusterConfig
  (`--dry-run`, against moto for the availability zones, and a MOCK of EKS's
  DescribeClusterVersions, which moto lacks);
- `helm upgrade --install`: for the charts this machine has (Karpenter's, the AWS Load Balancer
  Controller's, from their Go modules) the real helm renders the chart with the values file
  (`helm template` with the same flags).
What the tool would then have done in AWS is EMULATED in moto, just enough for the steps after
it: `create cluster` makes a VPC (public and private subnets, route tables, an internet gateway,
the discovery-tagged security group), the EKS cluster and its node group; `delete cluster`
removes them. helm's releases are kept in $TUBEDEMO_RECORD/releases.json so `helm list` and
`helm get values` answer as helm would after the installs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

RECORD = Path(os.environ["TUBEDEMO_RECORD"])
LOCAL_CHARTS = {"karpenter", "aws-load-balancer-controller"}


def record(tool: str, argv: list[str]) -> None:
    files: dict[str, str] = {}
    for flag in ("-f", "--values", "--config-file"):
        for index, arg in enumerate(argv[:-1]):
            if arg == flag and Path(argv[index + 1]).is_file():
                files[argv[index + 1]] = Path(argv[index + 1]).read_text(encoding="utf-8")
    RECORD.mkdir(parents=True, exist_ok=True)
    with (RECORD / "calls.jsonl").open("a", encoding="utf-8") as sink:
        sink.write(json.dumps({"tool": tool, "argv": argv, "files": files}) + "\n")


def judge(argv: list[str], what: str) -> None:
    """Run the real tool; exit as it did when it failed."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=300)
    if done.returncode != 0:
        sys.stderr.write(f"recorder: the real tool refused {what}:\n{done.stdout}{done.stderr}")
        sys.exit(done.returncode)


def real(tool: str) -> str:
    return os.environ[f"TUBEDEMO_REAL_{tool.upper()}"]


# --- helm ----------------------------------------------------------------------------------------


def releases() -> dict[str, Any]:
    path = RECORD / "releases.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def option(argv: list[str], *names: str) -> str | None:
    for index, arg in enumerate(argv[:-1]):
        if arg in names:
            return argv[index + 1]
    return None


def helm(argv: list[str]) -> None:
    judge([real("helm"), *argv, "--help"], "the flags")
    if argv[:2] == ["upgrade", "--install"]:
        name, chart = argv[2], argv[3]
        chart_name = chart.rpartition("/")[2]
        values_file = option(argv, "--values", "-f")
        if chart_name in LOCAL_CHARTS:
            local = str(Path(os.environ["TUBEDEMO_LOCAL_CHARTS"]) / chart_name)
            rest, skip = [], False
            for arg in argv[4:]:
                if skip:
                    skip = False
                    continue
                if arg == "--repo":  # the chart is read from its module here, not fetched
                    skip = True
                    continue
                rest.append(arg)
            judge([real("helm"), "template", name, local, *rest], f"chart {chart_name}")
        namespace = option(argv, "--namespace", "-n") or "default"
        values = yaml.safe_load(Path(values_file).read_text()) if values_file else {}
        state = releases()
        state[f"{namespace}/{name}"] = {
            "name": name,
            "namespace": namespace,
            "chart": f"{chart_name}-{option(argv, '--version')}",
            "status": "deployed",
            "values": values or {},
        }
        (RECORD / "releases.json").write_text(json.dumps(state))
    elif argv[:1] == ["list"]:
        print(
            json.dumps([{k: v for k, v in r.items() if k != "values"} for r in releases().values()])
        )
    elif argv[:2] == ["get", "values"]:
        namespace = option(argv, "--namespace", "-n") or "default"
        print(json.dumps(releases()[f"{namespace}/{argv[2]}"]["values"]))


# --- eksctl --------------------------------------------------------------------------------------


def aws(service: str, region: str) -> Any:
    import boto3

    return boto3.client(service, region_name=region)


def emulate_cluster(config: dict[str, Any]) -> None:
    """What eksctl's stacks would leave in the account, made in moto (EMULATED)."""
    meta = config["metadata"]
    name, region = meta["name"], meta["region"]
    tags = [{"Key": k, "Value": v} for k, v in (meta.get("tags") or {}).items()]
    ec2 = aws("ec2", region)
    cidr = config.get("vpc", {}).get("cidr", "192.168.0.0/16")
    vpc = ec2.create_vpc(
        CidrBlock=cidr,
        TagSpecifications=[
            {"ResourceType": "vpc", "Tags": [*tags, {"Key": "Name", "Value": f"eksctl-{name}"}]}
        ],
    )["Vpc"]["VpcId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    public_table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=public_table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    base = cidr.split(".")[:2]
    subnets = []
    for index, zone in enumerate(zones):
        for kind, offset, role in (("public", 0, "elb"), ("private", 100, "internal-elb")):
            subnet = ec2.create_subnet(
                VpcId=vpc,
                AvailabilityZone=zone,
                CidrBlock=f"{base[0]}.{base[1]}.{offset + index * 32}.0/19",
                TagSpecifications=[
                    {
                        "ResourceType": "subnet",
                        "Tags": [*tags, {"Key": f"kubernetes.io/role/{role}", "Value": "1"}],
                    }
                ],
            )["Subnet"]["SubnetId"]
            subnets.append(subnet)
            if kind == "public":
                ec2.associate_route_table(RouteTableId=public_table, SubnetId=subnet)
            else:
                table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
                ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
    group = ec2.create_security_group(
        GroupName=f"eks-cluster-sg-{name}",
        Description="cluster",
        VpcId=vpc,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": tags}],
    )["GroupId"]
    iam = aws("iam", region)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "eks.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(
        RoleName=f"eksctl-{name}-cluster-ServiceRole", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    eks = aws("eks", region)
    eks.create_cluster(
        name=name,
        version=meta["version"],
        roleArn=role,
        resourcesVpcConfig={"subnetIds": subnets, "securityGroupIds": [group]},
        tags=meta.get("tags") or {},
    )
    emulate_nodegroups(config)


def emulate_nodegroups(config: dict[str, Any]) -> None:
    meta = config["metadata"]
    eks = aws("eks", meta["region"])
    cluster = eks.describe_cluster(name=meta["name"])["cluster"]
    for group in config.get("managedNodeGroups", []):
        eks.create_nodegroup(
            clusterName=meta["name"],
            nodegroupName=group["name"],
            nodeRole=f"arn:aws:iam::123456789012:role/eksctl-{meta['name']}-nodegroup",
            subnets=cluster["resourcesVpcConfig"]["subnetIds"],
        )


def emulate_delete(name: str, region: str) -> None:
    eks = aws("eks", region)
    cluster = eks.describe_cluster(name=name)["cluster"]
    for group in eks.list_nodegroups(clusterName=name)["nodegroups"]:
        eks.delete_nodegroup(clusterName=name, nodegroupName=group)
    eks.delete_cluster(name=name)
    ec2 = aws("ec2", region)
    subnet_ids = cluster["resourcesVpcConfig"]["subnetIds"][:1]  # moto's EKS names no vpcId
    vpc = ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"][0]["VpcId"]
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    for table in tables["RouteTables"]:
        if any(a.get("Main") for a in table.get("Associations", [])):
            continue
        for association in table.get("Associations", []):
            ec2.disassociate_route_table(AssociationId=association["RouteTableAssociationId"])
        ec2.delete_route_table(RouteTableId=table["RouteTableId"])
    for subnet in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]:
        ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    for igw in ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [vpc]}]
    )["InternetGateways"]:
        ec2.detach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=vpc)
        ec2.delete_internet_gateway(InternetGatewayId=igw["InternetGatewayId"])
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    for group in groups["SecurityGroups"]:
        if group["GroupName"] != "default":
            ec2.delete_security_group(GroupId=group["GroupId"])
    ec2.delete_vpc(VpcId=vpc)
    aws("iam", region).delete_role(RoleName=f"eksctl-{name}-cluster-ServiceRole")


def eksctl(argv: list[str]) -> None:
    judge([real("eksctl"), *argv, "--help"], "the flags")
    config_file = option(argv, "-f", "--config-file")
    config = yaml.safe_load(Path(config_file).read_text()) if config_file else None
    if argv[:2] == ["create", "cluster"]:
        assert config is not None, "create cluster without -f"
        out = RECORD / "eksctl-dry-run.yaml"
        # moto lacks EKS's DescribeClusterVersions, which eksctl asks first: a MOCK answers it
        # (tests/eks/standins.py EksVersions) and passes every other EKS call on to moto
        env = {**os.environ, "AWS_ENDPOINT_URL_EKS": os.environ["TUBEDEMO_EKS_VERSIONS_MOCK"]}
        done = subprocess.run(
            [real("eksctl"), *argv, "--dry-run"],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
            env=env,
        )
        if done.returncode != 0:
            sys.stderr.write(f"recorder: eksctl refused the ClusterConfig:\n{done.stderr}")
            sys.exit(done.returncode)
        out.write_text(done.stdout)
        emulate_cluster(config)
    elif argv[:2] == ["create", "nodegroup"]:
        assert config is not None
        emulate_nodegroups(config)
    elif argv[:2] == ["utils", "write-kubeconfig"]:
        shutil.copy(os.environ["TUBEDEMO_KUBECONFIG_SOURCE"], os.environ["KUBECONFIG"])
    elif argv[:2] == ["delete", "cluster"]:
        emulate_delete(str(option(argv, "--name", "-n")), str(option(argv, "--region", "-r")))


def main() -> None:
    tool, argv = sys.argv[1], sys.argv[2:]
    record(tool, argv)
    {"eksctl": eksctl, "helm": helm}[tool](argv)


if __name__ == "__main__":
    main()
