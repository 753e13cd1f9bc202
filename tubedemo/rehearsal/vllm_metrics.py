"""vLLM's ``/metrics`` as a simulated replica serves it: the one exposition for the vLLM
stand-in, the fleet simulator's replicas and the tests' exporters.

Names, help texts, labels (``model_name``, ``engine``) and histogram buckets follow the pinned
vLLM release's v1 metrics (``vllm/v1/metrics/loggers.py``); ``tests/manifests/vllm`` checks the
names we read against that release. As in vLLM's stat logger, the scheduler gauges
(``vllm:num_requests_waiting``, ``vllm:num_requests_running``, ``vllm:kv_cache_usage_perc``) and
the token counters are read at scrape time, here from a ``figures()`` callable (one
``EngineFigures`` per ``engine`` label); time to first token and end-to-end latency are
histograms observed as requests reach them, and ``vllm:request_success`` counts finished
requests per ``finished_reason``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tubedemo.twin.engine import Engine

# vLLM's own bucket boundaries (vllm/v1/metrics/loggers.py), so histograms line up with real pods.
TTFT_BUCKETS = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
)  # fmt: skip
E2E_BUCKETS = (
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0,
    240.0, 480.0, 960.0, 1920.0, 7680.0,
)  # fmt: skip

GAUGES = (
    ("vllm:num_requests_waiting", "Number of requests waiting to be processed.", "waiting"),
    ("vllm:num_requests_running", "Number of requests in model execution batches.", "running"),
    ("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", "kv_usage"),
)
"""(name, help, EngineFigures field) of each scheduler gauge."""
COUNTERS = (
    ("vllm:prompt_tokens", "Number of prefill tokens processed.", "prompt_tokens"),
    ("vllm:generation_tokens", "Number of generation tokens processed.", "generation_tokens"),
)
"""(name, help, EngineFigures field) of each token counter (exposed with ``_total``)."""
HISTOGRAMS = (
    (
        "vllm:time_to_first_token_seconds",
        "Histogram of time to first token in seconds.",
        TTFT_BUCKETS,
    ),
    (
        "vllm:e2e_request_latency_seconds",
        "Histogram of e2e request latency in seconds.",
        E2E_BUCKETS,
    ),
)
"""(name, help, buckets) of time to first token and end-to-end latency, in that order."""
SUCCESS = ("vllm:request_success", "Count of successfully processed requests.")
"""(name, help) of the finished-requests counter, labelled ``finished_reason`` too."""


@dataclass(frozen=True)
class EngineFigures:
    """What one engine's scheduler reports at a scrape."""

    waiting: int = 0
    """Requests queued for a batch slot or KV blocks."""
    running: int = 0
    """Requests in the running batch."""
    kv_usage: float = 0.0
    """Fraction of the KV cache in use (0-1)."""
    prompt_tokens: int = 0
    """Prefill tokens processed since the engine started."""
    generation_tokens: int = 0
    """Tokens generated since the engine started."""

    @classmethod
    def of(cls, engine: Engine | None) -> EngineFigures:
        """The twin engine's figures now; all zero for a pod without an engine (yet)."""
        if engine is None:
            return cls()
        gauges = engine.gauges()
        return cls(
            waiting=gauges.waiting,
            running=gauges.running,
            kv_usage=gauges.kv_usage,
            prompt_tokens=engine.prompt_tokens_total,
            generation_tokens=engine.generation_tokens_total,
        )


class _AtScrape(Collector):
    """Gauges, token counters and success counts, read when scraped (vLLM's stat logger)."""

    def __init__(self, metrics: VllmMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        model = self.metrics.model_name
        figures = sorted(self.metrics.figures().items())
        for families, kind in ((GAUGES, GaugeMetricFamily), (COUNTERS, CounterMetricFamily)):
            for name, doc, field in families:
                family = kind(name, doc, labels=["engine", "model_name"])
                for engine, values in figures:
                    family.add_metric([engine, model], float(getattr(values, field)))
                yield family
        success = CounterMetricFamily(*SUCCESS, labels=["engine", "model_name", "finished_reason"])
        for (engine, reason), count in sorted(self.metrics.success.items()):
            success.add_metric([engine, model, reason], float(count))
        yield success


class VllmMetrics:
    """One simulated vLLM replica's ``/metrics`` registry.

    ``figures``: called at each scrape, the figures of each engine by its ``engine`` label (a
    replica of ours has one engine, ``"0"``; vLLM with data parallelism has several).
    """

    def __init__(self, model_name: str, figures: Callable[[], Mapping[str, EngineFigures]]) -> None:
        self.model_name = model_name
        self.figures = figures
        self.success: dict[tuple[str, str], int] = {}
        """Finished requests per (engine, finished_reason)."""
        self.registry = CollectorRegistry(auto_describe=True)
        self._ttft, self._e2e = (
            Histogram(name, doc, ["engine", "model_name"], buckets=buckets, registry=self.registry)
            for name, doc, buckets in HISTOGRAMS
        )
        self.registry.register(_AtScrape(self))

    def first_token(self, ttft_s: float, engine: str = "0") -> None:
        """A request's first token came ``ttft_s`` seconds after it arrived."""
        self._ttft.labels(engine=engine, model_name=self.model_name).observe(ttft_s)

    def finished(self, e2e_s: float, reason: str, engine: str = "0") -> None:
        """A request finished successfully (``reason``: stop, length) after ``e2e_s``."""
        self._e2e.labels(engine=engine, model_name=self.model_name).observe(e2e_s)
        self.success[engine, reason] = self.success.get((engine, reason), 0) + 1

    def text(self) -> bytes:
        """The exposition, in the Prometheus text format vLLM serves."""
        return generate_latest(self.registry)
