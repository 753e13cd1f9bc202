"""Prometheus metrics of the gateway, one registry per app (tests run several apps at once)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# TTFT as the gateway sees it: from the request arriving to the first upstream byte forwarded.
TTFT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tubedemo_gateway_requests",
            "HTTP requests by route template and status code.",
            ["route", "code"],
            registry=self.registry,
        )
        self.streams_in_flight = Gauge(
            "tubedemo_gateway_streams_in_flight",
            "Chat completion streams currently open through the gateway.",
            registry=self.registry,
        )
        self.ttft = Histogram(
            "tubedemo_gateway_ttft_seconds",
            "Time to first streamed byte from the upstream, as seen by the gateway.",
            buckets=TTFT_BUCKETS,
            registry=self.registry,
        )
        self.survey_submissions = Counter(
            "tubedemo_gateway_survey_submissions",
            "Accepted survey submissions by result (created or updated).",
            ["status"],
            registry=self.registry,
        )
        self.upstream_errors = Counter(
            "tubedemo_gateway_upstream_errors",
            "Upstream failures by code (unavailable, timeout, disconnected, error).",
            ["code"],
            registry=self.registry,
        )
        self.questions = Counter(
            "tubedemo_gateway_questions",
            "Counted audience questions recorded for the current talk session.",
            registry=self.registry,
        )


class RequestMetrics:
    """Pure ASGI middleware counting requests by route template and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(route=label, code=str(status)).inc()
