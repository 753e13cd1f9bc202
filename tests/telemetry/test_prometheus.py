"""vLLM and gateway metrics: real exposition text from a prometheus_client server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from tests.vllm_exporter import FakeEngine
from tubedemo.telemetry.prometheus import (
    MetricsParseError,
    gateway_between,
    parse_gateway,
    parse_vllm,
    perf_between,
    queue_totals,
)


@pytest.fixture
def engines() -> Iterator[list[FakeEngine]]:
    started = [FakeEngine(), FakeEngine()]
    yield started
    for engine in started:
        engine.close()


def test_queue_is_summed_over_pods_and_label_sets(engines: list[FakeEngine]) -> None:
    a, b = engines
    a.set(waiting=3)
    a.set(engine="1", waiting=2)
    b.set(waiting=4)
    a.set(running=8)
    b.set(running=7)
    samples = [parse_vllm(e.scrape()) for e in engines]
    assert queue_totals(samples) == (9, 15)


def test_latency_quantiles_come_from_histogram_deltas_not_lifetime(
    engines: list[FakeEngine],
) -> None:
    a, b = engines
    for _ in range(50):  # before the window: slow requests that must not count
        a.finish(ttft=8.0, e2e=9.0, tokens=10)
    before = {"a": parse_vllm(a.scrape()), "b": parse_vllm(b.scrape())}
    for _ in range(5):
        a.finish(ttft=0.2, e2e=4.0, tokens=150)
    for _ in range(4):
        b.finish(ttft=0.2, e2e=4.0, tokens=150)
    b.finish(ttft=3.0, e2e=7.0, tokens=100)
    after = {"a": parse_vllm(a.scrape()), "b": parse_vllm(b.scrape())}

    perf = perf_between(before, after, seconds=10.0)

    assert perf.requests_per_s == pytest.approx(1.0)
    assert perf.tokens_per_s == pytest.approx((9 * 150 + 100) / 10)
    assert perf.prompt_tokens_per_s == pytest.approx(120.0)
    # histogram_quantile: rank 5 of 10 in (0.1, 0.25] holding 9 -> 0.1 + 0.15 * 5/9
    assert perf.ttft_p50_s == pytest.approx(0.1 + 0.15 * 5 / 9)
    # rank 9.5 in (2.5, 5] holding the one slow request -> 2.5 + 2.5 * 0.5
    assert perf.ttft_p95_s == pytest.approx(3.75)
    assert perf.e2e_p95_s is not None and 5.0 < perf.e2e_p95_s <= 10.0
    assert perf.pods_scraped == 2


def test_a_restarted_pod_counts_from_zero_instead_of_going_negative(
    engines: list[FakeEngine],
) -> None:
    a, b = engines
    for _ in range(20):
        a.finish(ttft=0.2, e2e=4.0, tokens=100)
    before = {"pod": parse_vllm(a.scrape())}
    b.finish(ttft=0.2, e2e=4.0, tokens=100)  # "the same pod" after a restart: counters at 1
    after = {"pod": parse_vllm(b.scrape())}
    perf = perf_between(before, after, seconds=1.0)
    assert perf.requests_per_s == pytest.approx(1.0)
    assert perf.ttft_p50_s is not None


def test_a_new_pod_has_no_baseline_and_adds_no_rate(engines: list[FakeEngine]) -> None:
    a, _ = engines
    a.finish(ttft=0.2, e2e=4.0, tokens=100)
    perf = perf_between({}, {"a": parse_vllm(a.scrape())}, seconds=1.0)
    assert perf.requests_per_s is None and perf.ttft_p50_s is None and perf.pods_scraped == 1


def test_no_requests_in_the_window_means_unknown_latency_not_zero(
    engines: list[FakeEngine],
) -> None:
    a, _ = engines
    a.finish(ttft=0.2, e2e=4.0, tokens=100)
    sample = parse_vllm(a.scrape())
    perf = perf_between({"a": sample}, {"a": sample}, seconds=5.0)
    assert perf.requests_per_s == 0.0 and perf.ttft_p50_s is None


def test_kv_cache_use_is_the_mean_over_pods(engines: list[FakeEngine]) -> None:
    a, b = engines
    a.set(kv_usage=0.2)
    b.set(kv_usage=0.6)
    now = {"a": parse_vllm(a.scrape()), "b": parse_vllm(b.scrape())}
    assert perf_between(now, now, 1.0).kv_cache_usage == pytest.approx(0.4)


def test_garbage_is_a_parse_error_not_a_crash() -> None:
    with pytest.raises(MetricsParseError):
        parse_vllm("<html>502 Bad Gateway</html>\n{")


def test_gateway_rates_and_gauges_from_its_metric_names() -> None:
    registry = CollectorRegistry()
    requests = Counter("tubedemo_gateway_requests", "r", ["route", "code"], registry=registry)
    in_flight = Gauge("tubedemo_gateway_streams_in_flight", "f", registry=registry)
    questions = Counter("tubedemo_gateway_questions", "q", registry=registry)
    upstream = Counter("tubedemo_gateway_upstream_errors", "u", ["code"], registry=registry)
    server, _ = start_http_server(0, addr="127.0.0.1", registry=registry)
    url = f"http://127.0.0.1:{server.server_port}/metrics"
    try:
        requests.labels(route="/v1/chat/completions", code="200").inc(10)
        before = parse_gateway(httpx.get(url).text)
        requests.labels(route="/v1/chat/completions", code="200").inc(18)
        requests.labels(route="/v1/chat/completions", code="502").inc(2)
        requests.labels(route="/config", code="200").inc(50)
        upstream.labels(code="timeout").inc(1)
        in_flight.set(6)
        questions.inc(42)
        state = gateway_between(before, parse_gateway(httpx.get(url).text), seconds=10.0)
    finally:
        server.shutdown()
        server.server_close()
    assert state.requests_per_s == pytest.approx(2.0)
    assert state.errors_per_s == pytest.approx(0.3)
    assert state.in_flight == 6 and state.questions == 42
