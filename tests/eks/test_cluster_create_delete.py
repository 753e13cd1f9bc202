"""`tubedemo cluster create` and `cluster delete` end to end, as the presenter runs them.

Against: moto in server mode for AWS (STS, IAM, CloudFormation, SQS, EventBridge, EC2, EKS, S3,
CloudFront), a MOCK of Service Quotas' ec2 quotas (tests/eks/standins.py: moto serves none),
this suite's real API server for Kubernetes, and RECORDERS for eksctl and helm whose every call
the real eksctl and helm judge (tests/eks/recorders). Karpenter's CloudFormation is a named
STAND-IN served from loopback (the real one lives on GitHub). The controllers that would delete
a load balancer, a volume or an instance when Kubernetes lets go of its object are played by the
test (`Controllers`), against moto, as the AWS Load Balancer Controller, the EBS CSI driver and
Karpenter would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import boto3
import pytest
from kubernetes import client

from tests import prepared
from tests.aws import LoopbackServer, moto_server
from tests.eks import recorders
from tests.eks.standins import POLICIES, EksVersions, QuotaService, karpenter_template
from tests.eks.tools import eks_tools_dir
from tests.kube.fixtures import Kube
from tubedemo.aws.account import gvt_vcpus_needed
from tubedemo.core.config import config_from_dict
from tubedemo.eks import cloudfront
from tubedemo.eks.eksctl_config import TALK_TAG

REGION = "us-west-2"
CLUSTER = "tubedemo"
ACCOUNT = "123456789012"  # moto's


@dataclass
class World:
    """Everything one create/delete run talks to, and the environment that points at it."""

    env: dict[str, str]
    record: Path
    quotas: QuotaService
    workdir: Path

    def aws(self, service: str) -> Any:
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.env["AWS_ENDPOINT_URL"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def calls(self, tool: str) -> list[list[str]]:
        path = self.record / "calls.jsonl"
        lines = path.read_text().splitlines() if path.is_file() else []
        return [c["argv"] for c in map(json.loads, lines) if c["tool"] == tool]

    def tubedemo(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tubedemo", *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )


def _template_server() -> LoopbackServer:
    body = karpenter_template().encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return LoopbackServer(Handler)


@pytest.fixture
def world(kube: Kube, tmp_path: Path) -> Iterator[World]:
    tools = eks_tools_dir()
    if tools is None:
        prepared.unavailable("eksctl and helm are not built", "eks-tools")
    bin_dir = tmp_path / "bin"
    recorders.install(bin_dir)
    template = _template_server()
    template.thread.start()
    quotas = QuotaService()
    quotas.server.thread.start()
    workdir = tmp_path / "talk"
    workdir.mkdir()
    stop: list[Callable[[], None]] = []
    try:
        with moto_server() as url:
            versions = EksVersions(url)
            versions.server.thread.start()
            stop.append(versions.server.server.shutdown)
            env = {
                **os.environ,
                "PATH": f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}"
                f"{os.environ.get('PATH', '')}",
                "AWS_ENDPOINT_URL": url,
                "AWS_ENDPOINT_URL_SERVICE_QUOTAS": quotas.server.url,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_DEFAULT_REGION": REGION,
                "KUBECONFIG": str(tmp_path / "kubeconfig"),
                "TUBEDEMO_KUBECONFIG_SOURCE": str(kube.kubeconfig),
                "TUBEDEMO_RECORD": str(tmp_path / "record"),
                "TUBEDEMO_REAL_EKSCTL": str(tools / "bin" / "eksctl"),
                "TUBEDEMO_REAL_HELM": str(tools / "bin" / "helm"),
                "TUBEDEMO_LOCAL_CHARTS": str(tools / "charts"),
                "TUBEDEMO_KARPENTER_TEMPLATE_URL": f"{template.url}/cloudformation.yaml",
                "TUBEDEMO_EKS_VERSIONS_MOCK": versions.server.url,
                "HOME": str(tmp_path / "home"),  # helm's and eksctl's own state stays here
            }
            env.pop("AWS_PROFILE", None)
            yield World(env, tmp_path / "record", quotas, workdir)
    finally:
        for shutdown in stop:
            shutdown()
        template.server.shutdown()
        quotas.server.server.shutdown()


def _steps(output: str) -> list[tuple[str, str]]:
    """(verb, what) of each step line."""
    verbs = ("made", "found", "deleted", "gone", "proof", "kept")
    found = []
    for line in output.splitlines():
        verb, _, rest = line.strip().partition(" ")
        if verb in verbs:
            found.append((verb, rest.strip()))
    return found


def test_create_makes_everything_once_and_a_second_run_finds_it_all(
    world: World, kube: Kube, namespace: str
) -> None:
    first = world.tubedemo("cluster", "create", "--set", f"cluster.namespace={namespace}")
    assert first.returncode == 0, first.stdout + first.stderr
    steps = _steps(first.stdout)
    assert ("found", f"AWS account {ACCOUNT}, region {REGION}") in steps
    assert ("made", f"CloudFormation stack Karpenter-{CLUSTER}") in steps
    assert any(verb == "made" and what.startswith(f"EKS cluster {CLUSTER}") for verb, what in steps)
    assert sum(1 for verb, what in steps if what.startswith("helm release")) == 4

    # AWS: what create made, asked of moto
    eks = world.aws("eks").describe_cluster(name=CLUSTER)["cluster"]
    issuer = eks["identity"]["oidc"]["issuer"].removeprefix("https://")
    trust = world.aws("iam").get_role(RoleName="tubedemo-gateway")["Role"]
    assert issuer in json.dumps(trust["AssumeRolePolicyDocument"])
    subnet = eks["resourcesVpcConfig"]["subnetIds"][0]  # moto's EKS names no vpcId
    vpc = world.aws("ec2").describe_subnets(SubnetIds=[subnet])["Subnets"][0]["VpcId"]
    endpoints = world.aws("ec2").describe_vpc_endpoints()["VpcEndpoints"]
    assert [e["VpcId"] for e in endpoints] == [vpc]
    assert len(endpoints[0]["RouteTableIds"]) == 2  # the two private subnets' tables
    # moto names a service-linked role after the service's host (AWSServiceRoleForspot), AWS
    # AWSServiceRoleForEC2Spot: found by its path
    linked = world.aws("iam").list_roles(PathPrefix="/aws-service-role/spot.amazonaws.com/")
    assert len(linked["Roles"]) == 1
    cfg = config_from_dict({"cluster": {"namespace": namespace}})
    need = float(gvt_vcpus_needed(cfg).vcpus)
    assert [r["DesiredValue"] for r in world.quotas.requests] == [need] * len(
        cfg.gpu_pool.capacity_types
    )
    world.aws("s3").head_bucket(Bucket=f"tubedemo-{ACCOUNT}-{REGION}")
    # Kubernetes: the admin token
    secret = client.CoreV1Api(kube.api_client()).read_namespaced_secret("tubedemo-admin", namespace)
    assert set(secret.data) == {"token", "vllm-api-key"}  # the gateway's and vLLM's (#23)
    # What eksctl and helm were asked, and that the real tools accepted it (the recorders
    # exit as the tool did): the ClusterConfig eksctl defaulted in its dry run names our VPC
    dry_run = (world.record / "eksctl-dry-run.yaml").read_text()
    assert "karpenter.sh/discovery: tubedemo" in dry_run
    assert "192.168.0.0/16" in dry_run
    installs = [argv for argv in world.calls("helm") if argv[:2] == ["upgrade", "--install"]]
    assert [argv[2] for argv in installs] == [
        "aws-load-balancer-controller",
        "karpenter",
        "keda",
        "keda-otel-scaler",
    ]

    again = world.tubedemo("cluster", "create", "--set", f"cluster.namespace={namespace}")
    assert again.returncode == 0, again.stdout + again.stderr
    # everything found; the kubeconfig is written again (the same context, made current)
    verbs = [verb for verb, what in _steps(again.stdout) if not what.startswith("kubeconfig")]
    assert set(verbs) == {"found"}, again.stdout
    assert len([a for a in world.calls("eksctl") if a[:2] == ["create", "cluster"]]) == 1
    assert len([a for a in world.calls("helm") if a[:2] == ["upgrade", "--install"]]) == 4
    assert len(world.quotas.requests) == len(cfg.gpu_pool.capacity_types)


class Controllers:
    """The controllers `cluster delete` waits for, played against moto and the API server:
    the AWS Load Balancer Controller (Ingress finalizer -> its ALB, target group and security
    group), the EBS CSI driver (a PVC's volume) and Karpenter (a NodeClaim's finalizer -> its
    instance). Each acts only when Kubernetes asks it to: the object is being deleted."""

    def __init__(self, world: World, kube: Kube, namespace: str) -> None:
        self.world, self.kube, self.namespace = world, kube, namespace
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.ids: dict[str, str] = {}

    def start_the_talk(self) -> None:
        """What `up` and the talk would leave: an ALB for the Ingress, a volume for the PVC,
        a GPU instance for a NodeClaim, each tagged as its controller tags it."""
        self.ids = self._aws_leftovers()
        self._kubernetes_objects()
        self.thread.start()

    def _aws_leftovers(self) -> dict[str, str]:
        """The ALB (with its target group and security group), the PVC's volume and the
        NodeClaim's GPU instance, tagged as their controllers tag them; their ids by role."""
        ec2, elb = self.world.aws("ec2"), self.world.aws("elbv2")
        eks = self.world.aws("eks").describe_cluster(name=CLUSTER)["cluster"]
        subnets = eks["resourcesVpcConfig"]["subnetIds"]
        vpc = ec2.describe_subnets(SubnetIds=subnets[:1])["Subnets"][0]["VpcId"]
        owned = [{"Key": "elbv2.k8s.aws/cluster", "Value": CLUSTER}]
        group = ec2.create_security_group(
            GroupName="k8s-tubedemo-gateway",
            Description="alb",
            VpcId=vpc,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": owned}],
        )["GroupId"]
        alb = elb.create_load_balancer(
            Name="k8s-tubedemo-gateway", Subnets=subnets[:2], SecurityGroups=[group], Tags=owned
        )["LoadBalancers"][0]["LoadBalancerArn"]
        target = elb.create_target_group(
            Name="k8s-tubedemo-gateway",
            Protocol="HTTP",
            Port=8080,
            VpcId=vpc,
            TargetType="ip",
            Tags=owned,
        )["TargetGroups"][0]["TargetGroupArn"]
        zone = ec2.describe_subnets(SubnetIds=[subnets[0]])["Subnets"][0]["AvailabilityZone"]
        volume = ec2.create_volume(
            AvailabilityZone=zone,
            Size=1,
            VolumeType="gp3",
            TagSpecifications=[
                {
                    "ResourceType": "volume",
                    "Tags": [
                        {"Key": "kubernetes.io/created-for/pvc/namespace", "Value": self.namespace}
                    ],
                }
            ],
        )["VolumeId"]
        image = ec2.describe_images()["Images"][0]["ImageId"]
        instance = ec2.run_instances(
            ImageId=image,
            MinCount=1,
            MaxCount=1,
            InstanceType="g5.2xlarge",
            SubnetId=subnets[1],
            TagSpecifications=[
                {
                    "ResourceType": "instance",
                    "Tags": [{"Key": "karpenter.sh/nodepool", "Value": "tubedemo-gpu"}],
                }
            ],
        )["Instances"][0]["InstanceId"]
        return {
            "alb": alb,
            "target": target,
            "group": group,
            "volume": volume,
            "instance": instance,
        }

    def _kubernetes_objects(self) -> None:
        """The Ingress, the PVC, the NodePool and a NodeClaim, each with the finalizer its
        controller puts on it."""
        ours = {"app.kubernetes.io/part-of": "tubedemo", "app.kubernetes.io/managed-by": "tubedemo"}
        self.kube.apply(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {
                    "name": "gateway",
                    "namespace": self.namespace,
                    "labels": ours,
                    "finalizers": ["ingress.k8s.aws/resources"],
                },
                "spec": {
                    "defaultBackend": {"service": {"name": "gateway", "port": {"number": 80}}}
                },
            }
        )
        self.kube.apply(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": "gateway-data", "namespace": self.namespace, "labels": ours},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": "gp3",
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            }
        )
        self.kube.apply(
            {
                "apiVersion": "karpenter.sh/v1",
                "kind": "NodePool",
                "metadata": {"name": "tubedemo-gpu", "labels": ours},
                "spec": {
                    "template": {
                        "spec": {
                            "nodeClassRef": {
                                "group": "karpenter.k8s.aws",
                                "kind": "EC2NodeClass",
                                "name": "tubedemo-gpu",
                            },
                            "requirements": [
                                {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}
                            ],
                        }
                    }
                },
            }
        )
        self.kube.apply(
            {
                "apiVersion": "karpenter.sh/v1",
                "kind": "NodeClaim",
                "metadata": {
                    "name": "tubedemo-gpu-abcde",
                    "labels": {"karpenter.sh/nodepool": "tubedemo-gpu"},
                    "finalizers": ["karpenter.sh/termination"],
                },
                "spec": {
                    "nodeClassRef": {
                        "group": "karpenter.k8s.aws",
                        "kind": "EC2NodeClass",
                        "name": "tubedemo-gpu",
                    },
                    "requirements": [
                        {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}
                    ],
                },
            }
        )

    def _run(self) -> None:
        api = self.kube.api_client()
        custom = client.CustomObjectsApi(api)
        net = client.NetworkingV1Api(api)
        core = client.CoreV1Api(api)
        ec2, elb = self.world.aws("ec2"), self.world.aws("elbv2")
        done: set[str] = set()
        while not self.stop.wait(0.2):
            try:
                ingress = net.read_namespaced_ingress("gateway", self.namespace)
            except client.ApiException:
                ingress = None
            if ingress is not None and ingress.metadata.deletion_timestamp and "lb" not in done:
                elb.delete_load_balancer(LoadBalancerArn=self.ids["alb"])
                elb.delete_target_group(TargetGroupArn=self.ids["target"])
                ec2.delete_security_group(GroupId=self.ids["group"])
                net.patch_namespaced_ingress(
                    "gateway", self.namespace, {"metadata": {"finalizers": None}}
                )
                done.add("lb")
            claims = core.list_namespaced_persistent_volume_claim(self.namespace).items
            if not claims and "volume" not in done and "lb" in done:
                ec2.delete_volume(VolumeId=self.ids["volume"])
                done.add("volume")
            try:
                claim = custom.get_cluster_custom_object(
                    "karpenter.sh", "v1", "nodeclaims", "tubedemo-gpu-abcde"
                )
            except client.ApiException:
                claim = None
            if claim and claim["metadata"].get("deletionTimestamp") and "node" not in done:
                ec2.terminate_instances(InstanceIds=[self.ids["instance"]])
                # EC2 deletes a terminated instance's primary interface with it; moto 5.2 keeps
                # it attached, so the stand-in does what EC2 would
                attached = ec2.describe_network_interfaces(
                    Filters=[{"Name": "attachment.instance-id", "Values": [self.ids["instance"]]}]
                )["NetworkInterfaces"]
                for interface in attached:
                    ec2.delete_network_interface(NetworkInterfaceId=interface["NetworkInterfaceId"])
                custom.patch_cluster_custom_object(
                    "karpenter.sh",
                    "v1",
                    "nodeclaims",
                    "tubedemo-gpu-abcde",
                    {"metadata": {"finalizers": None}},
                )
                done.add("node")


def inventory(world: World) -> set[tuple[str, str]]:
    """Everything in moto's account that bills, or that a talk leaves behind, as (kind, id):
    the AWS-side inventory `delete` is held against."""
    ec2, elb, iam = world.aws("ec2"), world.aws("elbv2"), world.aws("iam")
    found: set[tuple[str, str]] = set()

    def add(kind: str, ids: Any) -> None:
        found.update((kind, str(i)) for i in ids)

    live = ec2.describe_instances(
        Filters=[{"Name": "instance-state-name", "Values": ["pending", "running", "stopped"]}]
    )
    add("instance", [i["InstanceId"] for r in live["Reservations"] for i in r["Instances"]])
    add("volume", [v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]])
    add(
        "snapshot",
        [s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]],
    )
    add(
        "network interface",
        [e["NetworkInterfaceId"] for e in ec2.describe_network_interfaces()["NetworkInterfaces"]],
    )
    add("security group", [g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]])
    add("vpc", [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]])
    add("subnet", [n["SubnetId"] for n in ec2.describe_subnets()["Subnets"]])
    add("route table", [t["RouteTableId"] for t in ec2.describe_route_tables()["RouteTables"]])
    add(
        "internet gateway",
        [g["InternetGatewayId"] for g in ec2.describe_internet_gateways()["InternetGateways"]],
    )
    add(
        "nat gateway",
        [
            g["NatGatewayId"]
            for g in ec2.describe_nat_gateways()["NatGateways"]
            if g["State"] not in ("deleted", "deleting")
        ],
    )
    add("elastic ip", [a["AllocationId"] for a in ec2.describe_addresses()["Addresses"]])
    add(
        "vpc endpoint",
        [
            e["VpcEndpointId"]
            for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]
            if e["State"] != "deleted"
        ],
    )
    add(
        "load balancer",
        [b["LoadBalancerArn"] for b in elb.describe_load_balancers()["LoadBalancers"]],
    )
    add("target group", [g["TargetGroupArn"] for g in elb.describe_target_groups()["TargetGroups"]])
    distributions = world.aws("cloudfront").list_distributions()["DistributionList"]
    add("cloudfront distribution", [d["Id"] for d in distributions.get("Items", [])])
    add("iam role", [r["RoleName"] for r in iam.list_roles()["Roles"]])
    add("iam policy", [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]])
    add("sqs queue", world.aws("sqs").list_queues().get("QueueUrls", []))
    add("eventbridge rule", [r["Name"] for r in world.aws("events").list_rules()["Rules"]])
    stacks = world.aws("cloudformation").describe_stacks()["Stacks"]
    add("stack", [s["StackName"] for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"])
    add("eks cluster", world.aws("eks").list_clusters()["clusters"])
    add("s3 bucket", [b["Name"] for b in world.aws("s3").list_buckets()["Buckets"]])
    return found


def test_delete_after_create_leaves_the_account_as_it_was_but_what_it_lists_as_kept(
    world: World, kube: Kube, namespace: str
) -> None:
    """moto's inventory before `create` and after `delete`, with the talk's ALB, volume and
    GPU instance in between: what is new is exactly what delete lists as kept (the survey
    bucket) and the account's own Spot service-linked role."""
    before = inventory(world)
    ns = ("--set", f"cluster.namespace={namespace}")
    created = world.tubedemo("cluster", "create", *ns)
    assert created.returncode == 0, created.stdout + created.stderr
    # delete runs from another machine: no kubeconfig context for the cluster (it writes one)
    Path(world.env["KUBECONFIG"]).unlink()
    controllers = Controllers(world, kube, namespace)
    controllers.start_the_talk()
    # and the audience's CloudFront distribution `up` puts in front of the ALB (its config)
    cfg = config_from_dict({"cluster": {"namespace": namespace}})
    alb = world.aws("elbv2").describe_load_balancers()["LoadBalancers"][0]["DNSName"]
    world.aws("cloudfront").create_distribution_with_tags(
        DistributionConfigWithTags={
            "DistributionConfig": cloudfront.distribution_config(cfg, alb, "inventory-test"),
            "Tags": {"Items": [{"Key": TALK_TAG, "Value": CLUSTER}]},
        }
    )
    try:
        deleted = world.tubedemo("cluster", "delete", "--yes", *ns)
    finally:
        controllers.stop.set()
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    assert any(
        line.strip().startswith("deleted CloudFront") for line in deleted.stdout.splitlines()
    )
    left = inventory(world) - before
    from moto.iam.models import ManagedPolicy

    if "delete_from_cloudformation_json" not in ManagedPolicy.__dict__:
        # GAP of moto 5.2: deleting a stack leaves its AWS::IAM::ManagedPolicy resources (AWS
        # deletes them with the stack; they do not bill). Dropped while moto has the gap.
        left -= {("iam policy", f"{name}-{CLUSTER}") for _, name, _ in POLICIES}
    bucket = f"tubedemo-{ACCOUNT}-{REGION}"
    spot_role = [r for k, r in left if k == "iam role" and r.startswith("AWSServiceRoleFor")]
    assert left == {("s3 bucket", bucket), *(("iam role", r) for r in spot_role)}, left
    assert len(spot_role) == 1  # moto names it AWSServiceRoleForspot (AWS: ...ForEC2Spot)
    kept = [what for verb, what in _steps(deleted.stdout) if verb == "kept"]
    assert any(f"s3://{bucket}/" in line for line in kept), kept


def test_delete_waits_for_each_controller_then_proves_nothing_of_the_talk_is_left(
    world: World, kube: Kube, namespace: str
) -> None:
    created = world.tubedemo("cluster", "create", "--set", f"cluster.namespace={namespace}")
    assert created.returncode == 0, created.stdout + created.stderr
    controllers = Controllers(world, kube, namespace)
    controllers.start_the_talk()
    try:
        deleted = world.tubedemo(
            "cluster", "delete", "--yes", "--set", f"cluster.namespace={namespace}"
        )
    finally:
        controllers.stop.set()
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    steps = _steps(deleted.stdout)
    assert ("deleted", "Ingress") in steps
    assert ("gone", "load balancer, target groups, security groups") in steps
    assert ("gone", "EBS volumes of the PVCs") in steps
    assert ("gone", "GPU instances") in steps
    assert ("deleted", f"CloudFormation stack Karpenter-{CLUSTER}") in steps
    assert any(verb == "proof" for verb, _ in steps)
    # the proof, asked of moto independently of delete's own
    ec2 = world.aws("ec2")
    live = ec2.describe_instances(
        Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}]
    )
    assert live["Reservations"] == []
    assert world.aws("elbv2").describe_load_balancers()["LoadBalancers"] == []
    assert ec2.describe_volumes()["Volumes"] == []
    assert world.aws("eks").list_clusters()["clusters"] == []
    stacks = world.aws("cloudformation").describe_stacks()["Stacks"]
    assert [s["StackName"] for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"] == []
    kept = [what for verb, what in steps if verb == "kept"]
    assert kept[0].startswith(f"survey data s3://tubedemo-{ACCOUNT}-{REGION}/tubedemo/")


README = Path(__file__).resolve().parents[2] / "README.md"


def readme_eks_blocks() -> list[str]:
    """The bash blocks of the README's "From zero to talk on EKS", as written there."""
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## From zero to talk on EKS\n")
    end = text.index("\n## ", start + 1)
    section = text[start:end]
    blocks = []
    for chunk in section.split("```bash\n")[1:]:
        blocks.append(chunk.split("\n```", 1)[0])
    return blocks


def test_the_readme_eks_commands_run_as_written(world: World) -> None:
    blocks = readme_eks_blocks()
    assert blocks, "the README's EKS section has no bash block"
    for block in blocks:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block],
            cwd=world.workdir,
            env={**world.env, "PATH": world.env["PATH"]},
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert done.returncode == 0, f"{block}\n---\n{done.stdout}{done.stderr}"
    calls = [argv[:2] for argv in world.calls("eksctl")]
    assert ["create", "cluster"] in calls and ["delete", "cluster"] in calls
