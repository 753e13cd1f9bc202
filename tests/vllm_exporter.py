"""A real Prometheus HTTP server on loopback exporting vLLM's metric names, for tests."""

from __future__ import annotations

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class FakeEngine:
    """A real Prometheus HTTP server exporting vLLM's metric names (values set by the test)."""

    def __init__(self, port: int = 0) -> None:
        self.registry = CollectorRegistry()
        labels = ["model_name", "engine"]
        self.waiting = Gauge("vllm:num_requests_waiting", "w", labels, registry=self.registry)
        self.running = Gauge("vllm:num_requests_running", "r", labels, registry=self.registry)
        self.kv = Gauge("vllm:kv_cache_usage_perc", "kv", labels, registry=self.registry)
        self.success = Counter(
            "vllm:request_success", "s", [*labels, "finished_reason"], registry=self.registry
        )
        self.gen = Counter("vllm:generation_tokens", "g", labels, registry=self.registry)
        self.prompt = Counter("vllm:prompt_tokens", "p", labels, registry=self.registry)
        self.ttft = Histogram(
            "vllm:time_to_first_token_seconds", "t", labels, buckets=BUCKETS, registry=self.registry
        )
        self.e2e = Histogram(
            "vllm:e2e_request_latency_seconds", "e", labels, buckets=BUCKETS, registry=self.registry
        )
        self.server, self.thread = start_http_server(port, addr="127.0.0.1", registry=self.registry)
        self.url = f"http://127.0.0.1:{self.server.server_port}/metrics"
        self.l = {"model_name": "llama-3.1-8b", "engine": "0"}

    def scrape(self) -> str:
        return httpx.get(self.url, timeout=5).text

    def finish(self, ttft: float, e2e: float, tokens: int, reason: str = "stop") -> None:
        self.success.labels(**self.l, finished_reason=reason).inc()
        self.gen.labels(**self.l).inc(tokens)
        self.prompt.labels(**self.l).inc(120)
        self.ttft.labels(**self.l).observe(ttft)
        self.e2e.labels(**self.l).observe(e2e)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
