"""Stand-ins for what the tests cannot have here, each named as one.

`karpenter_template`: a STAND-IN for Karpenter v1.14's getting-started CloudFormation. The real
template is downloaded from GitHub at the release tag (`tubedemo.eks.karpenter_stack`), which
this machine cannot reach, and it is not in any package registry (website/ is a Go module of
its own, `github.com/karpenter`, that no module proxy serves). This one has the real template's
parameter, logical ids, resource types and names, so `cluster create` and moto's CloudFormation
treat it as they would the real one. Two differences, both because moto 5.2 cannot create the
real resources: each policy document is an object with one statement (the real ones are JSON
strings under !Sub; moto dumps a string document again and refuses it as "Syntax errors in
policy"), and there is no AWS::SQS::QueuePolicy (moto's CloudFormation skips that type).
"""

from __future__ import annotations

POLICIES = (
    ("NodeLifecyclePolicy", "KarpenterControllerNodeLifecyclePolicy", "ec2:RunInstances"),
    ("IAMIntegrationPolicy", "KarpenterControllerIAMIntegrationPolicy", "iam:PassRole"),
    ("EKSIntegrationPolicy", "KarpenterControllerEKSIntegrationPolicy", "eks:DescribeCluster"),
    ("InterruptionPolicy", "KarpenterControllerInterruptionPolicy", "sqs:ReceiveMessage"),
    ("ZonalShiftPolicy", "KarpenterControllerZonalShiftPolicy", "arc-zonal-shift:Get*"),
    ("ResourceDiscoveryPolicy", "KarpenterControllerResourceDiscoveryPolicy", "ec2:Describe*"),
)

RULES = (
    ("ScheduledChangeRule", "aws.health", "AWS Health Event"),
    ("SpotInterruptionRule", "aws.ec2", "EC2 Spot Instance Interruption Warning"),
    ("RebalanceRule", "aws.ec2", "EC2 Instance Rebalance Recommendation"),
    ("InstanceStateChangeRule", "aws.ec2", "EC2 Instance State-change Notification"),
)


def karpenter_template() -> str:
    """The STAND-IN template's text (see the module docstring)."""
    parts = [
        "AWSTemplateFormatVersion: '2010-09-09'",
        "Description: STAND-IN for Karpenter's getting-started CloudFormation (tests only)",
        "Parameters:",
        "  ClusterName:",
        "    Type: String",
        "Resources:",
        "  KarpenterNodeRole:",
        "    Type: AWS::IAM::Role",
        "    Properties:",
        '      RoleName: !Sub "KarpenterNodeRole-${ClusterName}"',
        "      AssumeRolePolicyDocument:",
        "        Version: '2012-10-17'",
        "        Statement:",
        "          - Effect: Allow",
        "            Principal: {Service: ec2.amazonaws.com}",
        "            Action: sts:AssumeRole",
    ]
    for logical, name, action in POLICIES:
        parts += [
            f"  {logical}:",
            "    Type: AWS::IAM::ManagedPolicy",
            "    Properties:",
            f'      ManagedPolicyName: !Sub "{name}-${{ClusterName}}"',
            "      PolicyDocument:",
            "        Version: '2012-10-17'",
            "        Statement:",
            f"          - {{Effect: Allow, Action: '{action}', Resource: '*'}}",
        ]
    parts += [
        "  KarpenterInterruptionQueue:",
        "    Type: AWS::SQS::Queue",
        "    Properties:",
        '      QueueName: !Sub "${ClusterName}"',
        "      MessageRetentionPeriod: 300",
    ]
    for logical, source, detail in RULES:
        parts += [
            f"  {logical}:",
            "    Type: AWS::Events::Rule",
            "    Properties:",
            "      EventPattern:",
            f"        source: [{source}]",
            f"        detail-type: ['{detail}']",
            "      Targets:",
            "        - Id: KarpenterInterruptionQueueTarget",
            "          Arn: !GetAtt KarpenterInterruptionQueue.Arn",
        ]
    return "\n".join(parts) + "\n"


class QuotaService:
    """MOCK of AWS Service Quotas for the ec2 quotas moto 5.2 does not serve (its backend knows
    only the `vpc` service code): GetServiceQuota, GetAWSDefaultServiceQuota,
    RequestServiceQuotaIncrease and ListRequestedServiceQuotaChangeHistoryByQuota over the
    awsJson1_1 wire format boto3 speaks, on a loopback port. A request stays PENDING, as AWS's
    do for hours."""

    def __init__(self, applied: dict[str, float] | None = None) -> None:
        import json
        from http.server import BaseHTTPRequestHandler

        from tests.aws import LoopbackServer

        self.applied: dict[str, float] = dict(applied or {})
        self.requests: list[dict[str, object]] = []
        quotas = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                target = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                code = str(body.get("QuotaCode", ""))
                status, reply = 200, quotas.answer(target, code, body)
                if reply is None:
                    status, reply = 400, {"__type": "NoSuchResourceException", "Message": code}
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = LoopbackServer(Handler)

    def answer(self, target: str, code: str, body: dict[str, object]) -> dict[str, object] | None:
        quota = {"ServiceCode": "ec2", "QuotaCode": code}
        if target == "GetServiceQuota":
            value = self.applied.get(code)
            return None if value is None else {"Quota": {**quota, "Value": value}}
        if target == "GetAWSDefaultServiceQuota":
            return {"Quota": {**quota, "Value": 0.0}}
        if target == "RequestServiceQuotaIncrease":
            request = {
                **quota,
                "Id": f"req-{len(self.requests)}",
                "Status": "PENDING",
                "DesiredValue": body["DesiredValue"],
            }
            self.requests.append(request)
            return {"RequestedQuota": request}
        if target == "ListRequestedServiceQuotaChangeHistoryByQuota":
            return {"RequestedQuotas": [r for r in self.requests if r["QuotaCode"] == code]}
        return None


class EksVersions:
    """MOCK of one EKS operation moto 5.2 lacks, DescribeClusterVersions (GET /cluster-versions),
    which eksctl asks before it validates a ClusterConfig's `metadata.version`; every other EKS
    request is passed on to moto unchanged. It answers the versions tubedemo supports (1.33-1.35,
    preflight's range) as EKS's standard support: what EKS lists is not learned here."""

    VERSIONS = ("1.33", "1.34", "1.35")

    def __init__(self, moto_url: str) -> None:
        import json
        import urllib.error
        import urllib.request
        from http.server import BaseHTTPRequestHandler

        from tests.aws import LoopbackServer

        listing = json.dumps(
            {
                "clusterVersions": [
                    {
                        "clusterVersion": version,
                        "clusterType": "eks",
                        "defaultPlatformVersion": "eks.1",
                        "defaultVersion": version == "1.34",
                        "status": "STANDARD_SUPPORT",
                        "versionStatus": "STANDARD_SUPPORT",
                    }
                    for version in self.VERSIONS
                ]
            }
        ).encode()
        hop_by_hop = {"content-length", "transfer-encoding", "connection", "server", "date"}

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, code: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response(code)
                for key, value in headers:
                    if key.lower() not in hop_by_hop:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _any(self) -> None:
                if self.path.startswith("/cluster-versions"):
                    self._answer(200, [("Content-Type", "application/json")], listing)
                    return
                size = int(self.headers.get("Content-Length") or 0)
                request = urllib.request.Request(
                    moto_url + self.path,
                    data=self.rfile.read(size) if size else None,
                    method=self.command,
                    headers=dict(self.headers.items()),
                )
                try:
                    with urllib.request.urlopen(request) as reply:
                        self._answer(reply.status, list(reply.headers.items()), reply.read())
                except urllib.error.HTTPError as exc:
                    self._answer(exc.code, list(exc.headers.items()), exc.read())

            do_GET = do_POST = do_PUT = do_DELETE = _any

            def log_message(self, *args: object) -> None:
                pass

        self.server = LoopbackServer(Handler)
