"""vLLM and gateway Prometheus exposition text -> typed samples -> rates and quantiles. Pure.

Parsing is prometheus_client's own ``text_string_to_metric_families``; this module only folds
the parsed families into the few numbers the dashboard shows. Rates and latency quantiles come
from the difference between two scrapes of the same pod (counter resets count as a restart), so
they describe the requests of that window, not the pod's whole life.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from tubedemo.core.config import FORECAST_METRIC
from tubedemo.telemetry.snapshot import GatewayState, PerfState


class MetricsParseError(ValueError):
    """The text is not Prometheus exposition format."""


@dataclass(frozen=True)
class Histogram:
    """Cumulative buckets (upper bound -> count), as Prometheus exposes them."""

    buckets: tuple[tuple[float, float], ...] = ()
    count: float = 0.0
    total: float = 0.0

    def minus(self, earlier: Histogram) -> Histogram:
        """The observations made since ``earlier``; a reset (count went down) keeps self."""
        if self.count < earlier.count:
            return self
        before = dict(earlier.buckets)
        return Histogram(
            buckets=tuple((le, max(0.0, c - before.get(le, 0.0))) for le, c in self.buckets),
            count=self.count - earlier.count,
            total=self.total - earlier.total,
        )

    def plus(self, other: Histogram) -> Histogram:
        mine, theirs = dict(self.buckets), dict(other.buckets)
        bounds = sorted(set(mine) | set(theirs))
        return Histogram(
            buckets=tuple((le, mine.get(le, 0.0) + theirs.get(le, 0.0)) for le in bounds),
            count=self.count + other.count,
            total=self.total + other.total,
        )

    def quantile(self, q: float) -> float | None:
        """Prometheus' histogram_quantile: linear within the bucket; None with no observations.

        A rank in the +Inf bucket answers the largest finite bound (the best we know).
        """
        if self.count <= 0 or not self.buckets:
            return None
        rank = q * self.count
        lower_bound, lower_count = 0.0, 0.0
        finite = [b for b in self.buckets if not math.isinf(b[0])]
        for le, cumulative in self.buckets:
            if cumulative >= rank:
                if math.isinf(le):
                    return finite[-1][0] if finite else None
                in_bucket = cumulative - lower_count
                if in_bucket <= 0:
                    return le
                return lower_bound + (le - lower_bound) * (rank - lower_count) / in_bucket
            lower_bound, lower_count = le, cumulative
        return finite[-1][0] if finite else None


@dataclass(frozen=True)
class EngineSample:
    """One scrape of one vLLM pod, summed over its label sets (model_name, engine, ...)."""

    waiting: float = 0.0
    running: float = 0.0
    kv_cache_usage: float | None = None
    success_total: float = 0.0
    generation_tokens_total: float = 0.0
    prompt_tokens_total: float = 0.0
    ttft: Histogram = field(default_factory=Histogram)
    e2e: Histogram = field(default_factory=Histogram)


_GAUGES = {
    "vllm:num_requests_waiting": "waiting",
    "vllm:num_requests_running": "running",
}
_COUNTERS = {
    "vllm:request_success": "success_total",
    "vllm:generation_tokens": "generation_tokens_total",
    "vllm:prompt_tokens": "prompt_tokens_total",
}
_HISTOGRAMS = {
    "vllm:time_to_first_token_seconds": "ttft",
    "vllm:e2e_request_latency_seconds": "e2e",
}


def _families(text: str) -> list[tuple[str, list[tuple[str, dict[str, str], float]]]]:
    try:
        return [
            (fam.name, [(s.name, dict(s.labels), float(s.value)) for s in fam.samples])
            for fam in text_string_to_metric_families(text)
        ]
    except (ValueError, TypeError, IndexError) as exc:
        raise MetricsParseError(f"not Prometheus text: {exc}") from exc


def _histogram(name: str, samples: list[tuple[str, dict[str, str], float]]) -> Histogram:
    buckets: dict[float, float] = {}
    count = total = 0.0
    for sample_name, labels, value in samples:
        if sample_name == f"{name}_bucket":
            le = float(labels["le"])
            buckets[le] = buckets.get(le, 0.0) + value
        elif sample_name == f"{name}_count":
            count += value
        elif sample_name == f"{name}_sum":
            total += value
    return Histogram(tuple(sorted(buckets.items())), count, total)


def parse_vllm(text: str) -> EngineSample:
    """The dashboard's view of one vLLM /metrics page."""
    values: dict[str, float] = {}
    histograms: dict[str, Histogram] = {}
    kv: list[float] = []
    for name, samples in _families(text):
        if name in _GAUGES:
            values[_GAUGES[name]] = sum(v for n, _, v in samples if n == name)
        elif name in _COUNTERS:
            values[_COUNTERS[name]] = sum(v for n, _, v in samples if n == f"{name}_total")
        elif name in _HISTOGRAMS:
            histograms[_HISTOGRAMS[name]] = _histogram(name, samples)
        elif name == "vllm:kv_cache_usage_perc":
            kv.extend(v for n, _, v in samples if n == name)
    return EngineSample(
        waiting=values.get("waiting", 0.0),
        running=values.get("running", 0.0),
        kv_cache_usage=(sum(kv) / len(kv)) if kv else None,
        success_total=values.get("success_total", 0.0),
        generation_tokens_total=values.get("generation_tokens_total", 0.0),
        prompt_tokens_total=values.get("prompt_tokens_total", 0.0),
        ttft=histograms.get("ttft", Histogram()),
        e2e=histograms.get("e2e", Histogram()),
    )


def _counter_delta(now: float, before: float) -> float:
    return now if now < before else now - before


def perf_between(
    earlier: Mapping[str, EngineSample],
    now: Mapping[str, EngineSample],
    seconds: float,
) -> PerfState:
    """Fleet performance over ``seconds`` from per-pod scrapes (pod name -> sample).

    Only pods present in both scrapes count towards rates and quantiles: a pod seen for the first
    time has no baseline yet. KV-cache use is the mean over the pods scraped now.
    """
    return perf_since({pod: (sample, seconds) for pod, sample in earlier.items()}, now)


def perf_since(
    baselines: Mapping[str, tuple[EngineSample, float]],
    now: Mapping[str, EngineSample],
) -> PerfState:
    """Like ``perf_between``, each pod against its own baseline taken ``seconds`` ago.

    A replica that joined the fleet recently has a younger baseline than the others; the fleet's
    rate is the sum of each pod's own rate, quantiles merge every pod's histogram deltas.
    """
    requests = tokens = prompt = 0.0
    ttft, e2e = Histogram(), Histogram()
    have_rate = False
    for pod, sample in now.items():
        base = baselines.get(pod)
        if base is None or base[1] <= 0:
            continue
        before, seconds = base
        have_rate = True
        requests += _counter_delta(sample.success_total, before.success_total) / seconds
        tokens += (
            _counter_delta(sample.generation_tokens_total, before.generation_tokens_total) / seconds
        )
        prompt += _counter_delta(sample.prompt_tokens_total, before.prompt_tokens_total) / seconds
        ttft = ttft.plus(sample.ttft.minus(before.ttft))
        e2e = e2e.plus(sample.e2e.minus(before.e2e))
    kv = [s.kv_cache_usage for s in now.values() if s.kv_cache_usage is not None]
    return PerfState(
        requests_per_s=requests if have_rate else None,
        tokens_per_s=tokens if have_rate else None,
        prompt_tokens_per_s=prompt if have_rate else None,
        ttft_p50_s=ttft.quantile(0.5),
        ttft_p95_s=ttft.quantile(0.95),
        e2e_p50_s=e2e.quantile(0.5),
        e2e_p95_s=e2e.quantile(0.95),
        kv_cache_usage=(sum(kv) / len(kv)) if kv else None,
        pods_scraped=len(now),
    )


def queue_totals(samples: Sequence[EngineSample]) -> tuple[int, int]:
    """(waiting, running) summed over pods."""
    return (
        round(sum(s.waiting for s in samples)),
        round(sum(s.running for s in samples)),
    )


@dataclass(frozen=True)
class GatewaySample:
    """One scrape of the gateway's /metrics."""

    chat_requests_total: float = 0.0
    server_errors_total: float = 0.0
    upstream_errors_total: float = 0.0
    streams_in_flight: float = 0.0
    questions_total: float = 0.0
    survey_created_total: float = 0.0


CHAT_ROUTE = "/v1/chat/completions"


def parse_gateway(text: str) -> GatewaySample:
    chat = server_errors = upstream = in_flight = questions = created = 0.0
    for name, samples in _families(text):
        if name == "tubedemo_gateway_requests":
            for sample_name, labels, value in samples:
                if sample_name != f"{name}_total":
                    continue
                if labels.get("route") == CHAT_ROUTE:
                    chat += value
                if labels.get("code", "").startswith("5"):
                    server_errors += value
        elif name == "tubedemo_gateway_upstream_errors":
            upstream = sum(v for n, _, v in samples if n == f"{name}_total")
        elif name == "tubedemo_gateway_streams_in_flight":
            in_flight = sum(v for n, _, v in samples if n == name)
        elif name == "tubedemo_gateway_questions":
            questions = sum(v for n, _, v in samples if n == f"{name}_total")
        elif name == "tubedemo_gateway_survey_submissions":
            created = sum(
                v
                for n, labels, v in samples
                if n == f"{name}_total" and labels.get("status") == "created"
            )
    return GatewaySample(chat, server_errors, upstream, in_flight, questions, created)


def parse_forecast(text: str) -> int:
    """The replicas a /forecast answer asks for (the gauge KEDA's metrics-api trigger reads);
    MetricsParseError when the text has no such gauge."""
    for name, samples in _families(text):
        if name == FORECAST_METRIC:
            for _, _, value in samples:
                return round(value)
    raise MetricsParseError(f"no {FORECAST_METRIC} in the answer")


def gateway_between(
    earlier: GatewaySample | None, now: GatewaySample, seconds: float
) -> GatewayState:
    """Gateway rates over ``seconds``; without an earlier scrape only the gauges are known."""
    rate = err = None
    if earlier is not None and seconds > 0:
        rate = _counter_delta(now.chat_requests_total, earlier.chat_requests_total) / seconds
        err = (
            _counter_delta(now.server_errors_total, earlier.server_errors_total)
            + _counter_delta(now.upstream_errors_total, earlier.upstream_errors_total)
        ) / seconds
    return GatewayState(
        requests_per_s=rate,
        errors_per_s=err,
        in_flight=round(now.streams_in_flight),
        questions=round(now.questions_total),
    )
