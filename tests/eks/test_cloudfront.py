"""The audience's CloudFront distribution, against moto's CloudFront in server mode."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.aws import moto_server, point_boto3_at
from tubedemo.aws.session import Aws
from tubedemo.core.config import config_from_dict
from tubedemo.eks import cloudfront

ALB = "k8s-tubedemo-gateway-0123456789.us-west-2.elb.amazonaws.com"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    with moto_server() as url:
        point_boto3_at(monkeypatch, url)
        yield Aws("us-west-2")


def test_one_distribution_per_cluster_made_then_found_then_re_pointed(aws: Aws) -> None:
    cfg = config_from_dict({})
    verb, url = cloudfront.ensure(aws, cfg, ALB)
    assert verb == "made" and url.startswith("https://") and url.endswith(".cloudfront.net/")
    assert cloudfront.ensure(aws, cfg, ALB) == ("found", url)
    verb, moved = cloudfront.ensure(aws, cfg, "k8s-other.us-west-2.elb.amazonaws.com")
    assert (verb, moved) == ("made", url)
    found = cloudfront.find(aws, cfg)
    assert found is not None
    assert found["Origins"]["Items"][0]["DomainName"] == "k8s-other.us-west-2.elb.amazonaws.com"
    assert len(aws.call("cloudfront", "list_distributions")["DistributionList"]["Items"]) == 1


def test_streamed_answers_pass_uncached_and_uncompressed_with_the_longest_timeout(aws: Aws) -> None:
    cfg = config_from_dict({})
    cloudfront.ensure(aws, cfg, ALB)
    found = cloudfront.find(aws, cfg)
    assert found is not None
    config = aws.call("cloudfront", "get_distribution_config", Id=found["Id"])["DistributionConfig"]
    origin = config["Origins"]["Items"][0]
    assert origin["DomainName"] == ALB
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "http-only"
    assert origin["CustomOriginConfig"]["OriginReadTimeout"] == 60
    stream = config["CacheBehaviors"]["Items"][0]
    assert stream["PathPattern"] == "/v1/*"
    assert stream["Compress"] is False
    assert stream["CachePolicyId"] == cloudfront.CACHING_DISABLED
    assert "POST" in stream["AllowedMethods"]["Items"]
    assert config["DefaultCacheBehavior"]["CachePolicyId"] == cloudfront.CACHING_DISABLED
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"


def test_delete_disables_then_deletes_and_then_finds_nothing(aws: Aws) -> None:
    cfg = config_from_dict({})
    cloudfront.ensure(aws, cfg, ALB)
    verb, _ = cloudfront.delete(aws, cfg, timeout=60)
    assert verb == "deleted"
    assert cloudfront.find(aws, cfg) is None
    assert cloudfront.delete(aws, cfg) == ("gone", "CloudFront distribution of the audience")
