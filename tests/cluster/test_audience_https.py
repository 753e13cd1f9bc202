"""Preflight's rule for the audience URL: https on the internet unless said otherwise (pure)."""

from __future__ import annotations

from tubedemo.aws.account import WARNING
from tubedemo.cluster.audience_https import audience_line, plain_http_problem
from tubedemo.core.config import config_from_dict


def test_the_eks_default_puts_cloudfront_in_front_and_passes() -> None:
    cfg = config_from_dict({})
    assert cfg.audience_https == "cloudfront"
    assert plain_http_problem(cfg) is None


def test_an_explicit_public_http_url_is_refused_with_both_ways_out() -> None:
    cfg = config_from_dict({"talk": {"audience_url": "http://talk.example.org/"}})
    problem = plain_http_problem(cfg)
    assert problem is not None
    assert "use its https:// address, or say web.https: off" in problem


def test_saying_https_off_lets_plain_http_through() -> None:
    cfg = config_from_dict(
        {"talk": {"audience_url": "http://talk.example.org/"}, "web": {"https": "off"}}
    )
    assert plain_http_problem(cfg) is None


def test_a_url_on_this_network_is_not_the_internet() -> None:
    for url in ("http://192.168.1.20:8080/", "http://localhost:8080/", "http://10.0.0.5/"):
        assert plain_http_problem(config_from_dict({"talk": {"audience_url": url}})) is None


def test_certificate_mode_without_a_certificate_names_the_field() -> None:
    problem = plain_http_problem(config_from_dict({"web": {"https": "certificate"}}))
    assert problem is not None and "web.ingress.certificate_arn" in problem


def test_preflight_checks_the_audience_url_whenever_phones_reach_the_page() -> None:
    from tubedemo.cluster.preflight import Check, required_checks

    assert Check("https", "audience") in required_checks(config_from_dict({}), [])
    local = config_from_dict({"profile": "local"})
    assert Check("https", "audience") not in required_checks(local, [])


def test_cloudfront_in_front_of_a_120_s_answer_is_fine_while_keepalives_come_under_60_s() -> None:
    """CloudFront drops an origin silent for 60 s; the gateway's keep-alives (15 s by default)
    keep a question queued for up to gateway.answer_timeout (120 s) alive, so no warning."""
    line = audience_line(config_from_dict({}))  # answer_timeout 120 s, web.https cloudfront
    assert not line.startswith(WARNING)
    assert "kept alive every 15 s, under its 60 s" in line
    slow = config_from_dict({"gateway": {"stream_keepalive": "60s"}})
    warned = audience_line(slow)
    assert warned.startswith(WARNING)
    assert "at most 60 s for a byte while gateway.stream_keepalive is 60 s" in warned
    assert "set gateway.stream_keepalive under 60 s" in warned
    mine = config_from_dict({"web": {"https": "certificate"}})
    assert not audience_line(mine).startswith(WARNING)
