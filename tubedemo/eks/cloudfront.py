"""HTTPS for the audience without a domain: a CloudFront distribution in front of the ALB.

Phones get https://<id>.cloudfront.net (CloudFront's own certificate); CloudFront talks plain
HTTP to the ALB inside AWS. What the answers' server-sent events need from it (AWS's CloudFront
Developer Guide):
- nothing cached: the managed CachingDisabled policy on every path, and AllViewer forwards
  every header, cookie and query string (the page's client id) ("Use managed cache policies",
  "Use managed origin request policies");
- no compression on /v1/* (the streamed answers): a compressing edge would hold tokens back to
  fill its buffers ("Serve compressed files"); the page itself is compressed;
- the origin's response timeout, which CloudFront applies to the first byte and to every gap
  between two packets ("Response timeout"), at its highest without a quota increase, 60 s
  (up to 180 s with one): the gateway sends its headers with the first token, so an answer
  queued longer than that fails at the edge with a 504.
`up` makes (or finds, or re-points) the distribution once the ALB has its name; `cluster
delete` disables and deletes it.
"""

from __future__ import annotations

from typing import Any

from tubedemo.aws.session import Aws
from tubedemo.cluster.audience_https import CLOUDFRONT_ORIGIN_TIMEOUT
from tubedemo.core.config import DemoConfig
from tubedemo.eks.eksctl_config import TALK_TAG

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
"""AWS's managed cache policy CachingDisabled."""
ALL_VIEWER = "216adef6-5c7f-47e4-b989-5492eafa07d3"
"""AWS's managed origin request policy AllViewer (every header, cookie, query string)."""
ORIGIN_RESPONSE_TIMEOUT = CLOUDFRONT_ORIGIN_TIMEOUT
"""Seconds CloudFront waits for the ALB's first byte and between two packets: the most allowed
without a quota increase (preflight warns when gateway.answer_timeout is longer)."""
ORIGIN_KEEPALIVE = 60
"""Seconds CloudFront keeps an idle connection to the ALB (the ALB's idle timeout is 60 s)."""
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
ORIGIN_ID = "alb"


def comment(cfg: DemoConfig) -> str:
    """How tubedemo finds its distribution again (one per cluster and region)."""
    return f"tubedemo audience: cluster {cfg.cluster.name} in {cfg.cluster.region}"


def _behavior(*, compress: bool, path: str | None = None) -> dict[str, Any]:
    behavior: dict[str, Any] = {
        "TargetOriginId": ORIGIN_ID,
        "ViewerProtocolPolicy": "redirect-to-https",
        "AllowedMethods": {
            "Quantity": len(ALL_METHODS),
            "Items": ALL_METHODS,
            "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]},
        },
        "CachePolicyId": CACHING_DISABLED,
        "OriginRequestPolicyId": ALL_VIEWER,
        "Compress": compress,
    }
    if path is not None:
        behavior["PathPattern"] = path
    return behavior


def distribution_config(cfg: DemoConfig, alb: str, caller_reference: str) -> dict[str, Any]:
    """The distribution in front of the ALB named ``alb`` (pure)."""
    return {
        "CallerReference": caller_reference,
        "Comment": comment(cfg),
        "Enabled": True,
        "PriceClass": "PriceClass_100",  # North America and Europe edges: the cheapest class
        "HttpVersion": "http2and3",
        "IsIPV6Enabled": True,
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": ORIGIN_ID,
                    "DomainName": alb,
                    "CustomOriginConfig": {
                        "HTTPPort": 80,
                        "HTTPSPort": 443,
                        # the ALB listens on 80 only: it has no certificate of its own
                        "OriginProtocolPolicy": "http-only",
                        "OriginReadTimeout": ORIGIN_RESPONSE_TIMEOUT,
                        "OriginKeepaliveTimeout": ORIGIN_KEEPALIVE,
                        "OriginSslProtocols": {"Quantity": 1, "Items": ["TLSv1.2"]},
                    },
                }
            ],
        },
        "DefaultCacheBehavior": _behavior(compress=True),
        "CacheBehaviors": {"Quantity": 1, "Items": [_behavior(compress=False, path="/v1/*")]},
        "ViewerCertificate": {"CloudFrontDefaultCertificate": True},
    }


def find(aws: Aws, cfg: DemoConfig) -> dict[str, Any] | None:
    """This cluster's distribution (summary), or None."""
    for page in aws.pages("cloudfront", "list_distributions"):
        for item in (page.get("DistributionList") or {}).get("Items", []) or []:
            if item.get("Comment") == comment(cfg):
                return dict(item)
    return None


def ensure(aws: Aws, cfg: DemoConfig, alb: str) -> tuple[str, str]:
    """(verb, https URL): the distribution in front of ``alb``, made, found, or re-pointed
    ("made": a new `up` after a teardown gets a new ALB name)."""
    found = find(aws, cfg)
    if found is None:
        reference = f"tubedemo-{cfg.cluster.name}-{cfg.cluster.region}-{alb}"[:128]
        reply = aws.call(
            "cloudfront",
            "create_distribution_with_tags",
            DistributionConfigWithTags={
                "DistributionConfig": distribution_config(cfg, alb, reference),
                "Tags": {"Items": [{"Key": TALK_TAG, "Value": cfg.cluster.name}]},
            },
        )
        return "made", f"https://{reply['Distribution']['DomainName']}/"
    origins = (found.get("Origins") or {}).get("Items") or []
    if origins and origins[0].get("DomainName") == alb:
        return "found", f"https://{found['DomainName']}/"
    current = aws.call("cloudfront", "get_distribution_config", Id=found["Id"])
    config = distribution_config(cfg, alb, current["DistributionConfig"]["CallerReference"])
    aws.call(
        "cloudfront",
        "update_distribution",
        Id=found["Id"],
        IfMatch=current["ETag"],
        DistributionConfig=config,
    )
    return "made", f"https://{found['DomainName']}/"


def delete(aws: Aws, cfg: DemoConfig, *, timeout: float = 1800.0) -> tuple[str, str]:
    """Disable, wait until deployed (CloudFront deletes only disabled, deployed ones), delete."""
    found = find(aws, cfg)
    if found is None:
        return "gone", "CloudFront distribution of the audience"
    ident = str(found["Id"])
    current = aws.call("cloudfront", "get_distribution_config", Id=ident)
    config = current["DistributionConfig"]
    etag = current["ETag"]
    if config.get("Enabled"):
        config["Enabled"] = False
        etag = aws.call(
            "cloudfront", "update_distribution", Id=ident, IfMatch=etag, DistributionConfig=config
        )["ETag"]
    aws.wait("cloudfront", "distribution_deployed", timeout=timeout, poll=20.0, Id=ident)
    aws.call("cloudfront", "delete_distribution", Id=ident, IfMatch=etag)
    return "deleted", f"CloudFront distribution {ident} ({found['DomainName']})"
