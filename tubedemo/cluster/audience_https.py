"""Whether phones will reach the audience page over https (pure; preflight's check).

Browsers warn on public plain-http pages (Chrome 154 shows a full-page warning), and the
audience's names and companies would cross the venue's Wi-Fi in clear text: an internet-facing
audience URL on http:// is refused unless the presenter says `web.https: off`.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from tubedemo.aws.account import WARNING
from tubedemo.core.config import DemoConfig

CLOUDFRONT_ORIGIN_TIMEOUT = 60
"""Seconds CloudFront waits for the ALB's first byte and between two packets (its origin
response timeout): the most a distribution may ask without a quota increase, which AWS grants
through a Support case (up to 180 s), not through the Service Quotas API. The gateway's
keep-alives (gateway.stream_keepalive) keep a queued question's stream under it."""


def _private(host: str) -> bool:
    if host in ("localhost", "") or host.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_private or address.is_loopback or address.is_link_local


def plain_http_problem(config: DemoConfig) -> str | None:
    """Why the audience would get a plain-http page on the internet, or None."""
    mode = config.audience_https
    explicit = config.talk.audience_url
    if explicit:
        parts = urlsplit(explicit)
        if parts.scheme == "http" and not _private(parts.hostname or "") and mode != "off":
            return (
                f"talk.audience_url {explicit} is plain http on the internet: phones' browsers "
                "warn and answers cross the venue's Wi-Fi in clear; use its https:// address, "
                "or say web.https: off"
            )
        return None
    if config.exposure == "none":
        return None
    public = (
        config.web.ingress.scheme
        if config.exposure == "ingress"
        else config.web.load_balancer_scheme
    )
    has_certificate = config.exposure == "ingress" and bool(config.web.ingress.certificate_arn)
    if mode == "certificate" and public == "internet-facing" and not has_certificate:
        return (
            "web.https is certificate but the ALB has none: set web.ingress.certificate_arn "
            "(an ACM certificate for web.ingress.host), or web.https: cloudfront"
        )
    return None


def audience_line(config: DemoConfig) -> str:
    """What preflight says when the audience URL is fine."""
    mode = config.audience_https
    if config.talk.audience_url:
        return f"audience URL {config.talk.audience_url} (talk.audience_url)"
    keepalive = config.gateway.stream_keepalive
    if mode == "cloudfront" and keepalive >= CLOUDFRONT_ORIGIN_TIMEOUT:
        return (
            f"{WARNING}audience over https through CloudFront, which waits at most "
            f"{CLOUDFRONT_ORIGIN_TIMEOUT} s for a byte while gateway.stream_keepalive is "
            f"{keepalive:g} s: a question queued longer than {CLOUDFRONT_ORIGIN_TIMEOUT} s gets a "
            f"504 from the edge; set gateway.stream_keepalive under {CLOUDFRONT_ORIGIN_TIMEOUT} s "
            "(default 15 s), or use web.https: certificate"
        )
    return {
        "cloudfront": (
            "audience over https: `up` puts CloudFront in front of the load balancer (a "
            f"queued question's stream is kept alive every {keepalive:g} s, under its "
            f"{CLOUDFRONT_ORIGIN_TIMEOUT} s)"
        ),
        "certificate": "audience over https: the ALB serves web.ingress.certificate_arn",
        "off": "audience over plain http (web.https: off, or nothing exposed)",
    }[mode]
