"""A real Prometheus HTTP server on loopback serving vLLM's exposition, for tests.

The exposition is the simulated replicas' own (``tubedemo.rehearsal.vllm_metrics``: vLLM's
names, labels and buckets); only the figures are the test's.
"""

from __future__ import annotations

from dataclasses import replace

import httpx
from prometheus_client import start_http_server

from tubedemo.rehearsal.vllm_metrics import EngineFigures, VllmMetrics

MODEL = "llama-3.1-8b"


class FakeEngine:
    """A vLLM pod's /metrics over real HTTP, with scheduler figures the test sets (a fake:
    no engine behind it)."""

    def __init__(self, port: int = 0) -> None:
        self.figures: dict[str, EngineFigures] = {"0": EngineFigures()}
        """Figures per ``engine`` label; the server reads them at each scrape."""
        self.metrics = VllmMetrics(MODEL, lambda: dict(self.figures))
        self.server, self.thread = start_http_server(
            port, addr="127.0.0.1", registry=self.metrics.registry
        )
        self.url = f"http://127.0.0.1:{self.server.server_port}/metrics"

    def set(self, engine: str = "0", **figures: float) -> None:
        """Set scheduler figures (``waiting=``, ``running=``, ``kv_usage=``) of one engine."""
        self.figures[engine] = replace(self.figures.get(engine, EngineFigures()), **figures)

    def scrape(self) -> str:
        return httpx.get(self.url, timeout=5).text

    def finish(self, ttft: float, e2e: float, tokens: int, reason: str = "stop") -> None:
        """A request of 120 prompt tokens finished on engine 0 after generating ``tokens``."""
        now = self.figures["0"]
        self.figures["0"] = replace(
            now,
            prompt_tokens=now.prompt_tokens + 120,
            generation_tokens=now.generation_tokens + tokens,
        )
        self.metrics.first_token(ttft)
        self.metrics.finished(e2e, reason)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
