"""The per-tick assembler: real vLLM-style exporters and the real gateway on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from gateway.fake_vllm import FakeVLLM, ServerThread
from gateway.settings import load_settings
from tests.vllm_exporter import FakeEngine
from tubedemo.core.config import PriceTable, TimelineConfig
from tubedemo.telemetry.assembler import (
    Assembler,
    KubeReading,
    MetricsTarget,
)
from tubedemo.telemetry.http_sources import HttpGatewayFeed, HttpMetricsFeed
from tubedemo.telemetry.snapshot import (
    GpuNode,
    HpaState,
    NodeState,
    ReplicaState,
)

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
ADMIN = {"Authorization": "Bearer test-admin-token-0123456789"}


def _assembler(**kw: object) -> Assembler:
    return Assembler(
        multiplier=50,
        prices=PriceTable(),
        timeline=TimelineConfig(),
        talk_duration=1800.0,
        talk_start=T0,
        stale_after=5.0,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def engines() -> Iterator[list[FakeEngine]]:
    started = [FakeEngine(), FakeEngine()]
    yield started
    for e in started:
        e.close()


def _targets(engines: list[FakeEngine]) -> tuple[MetricsTarget, ...]:
    return tuple(MetricsTarget(name=f"vllm-{i}", url=e.url) for i, e in enumerate(engines))


def test_queue_and_virtual_commuters_come_from_every_replica(engines: list[FakeEngine]) -> None:
    a, b = engines
    a.set(waiting=4)
    b.set(waiting=3)
    feed = HttpMetricsFeed()
    try:
        snap = _assembler(metrics=feed, static_targets=_targets(engines)).tick(T0)
    finally:
        feed.close()
    assert snap.queue.waiting == 7 and snap.virtual_commuters == 350
    assert not snap.queue.stale and snap.queue.age_s == 0.0


def test_rates_and_latency_cover_the_rate_window(engines: list[FakeEngine]) -> None:
    a, _ = engines
    feed = HttpMetricsFeed()
    asm = _assembler(metrics=feed, static_targets=_targets(engines))
    try:
        asm.tick(T0)
        for _ in range(6):
            a.finish(ttft=0.2, e2e=4.0, tokens=150)
        snap = asm.tick(T0 + timedelta(seconds=2))
    finally:
        feed.close()
    assert snap.perf.requests_per_s == pytest.approx(3.0)
    assert snap.perf.tokens_per_s == pytest.approx(450.0)
    assert snap.perf.ttft_p50_s is not None and 0.1 < snap.perf.ttft_p50_s <= 0.25


def test_one_dead_pod_is_noted_but_the_rest_stays_fresh(engines: list[FakeEngine]) -> None:
    a, b = engines
    a.set(waiting=2)
    b.close()
    feed = HttpMetricsFeed(timeout=1.0)
    try:
        snap = _assembler(metrics=feed, static_targets=_targets(engines)).tick(T0)
    finally:
        feed.close()
    assert snap.queue.waiting == 2 and not snap.queue.stale
    assert snap.queue.error is not None and "1 of 2 pods not scraped" in snap.queue.error


def test_all_pods_failing_keeps_last_values_stale_then_recovers_by_itself() -> None:
    engine = FakeEngine()
    port = engine.server.server_port
    engine.set(waiting=5)
    feed = HttpMetricsFeed(timeout=1.0)
    asm = _assembler(metrics=feed, static_targets=(MetricsTarget("vllm-0", url=engine.url),))
    try:
        assert asm.tick(T0).queue.waiting == 5
        engine.close()
        down = asm.tick(T0 + timedelta(seconds=3))
        assert down.queue.stale and down.queue.waiting == 5 and down.queue.age_s == 3.0
        assert down.queue.error
        later = asm.tick(T0 + timedelta(seconds=9))
        assert later.queue.age_s == 9.0
        back = FakeEngine(port=port)
        try:
            back.set(waiting=1)
            recovered = asm.tick(T0 + timedelta(seconds=10))
        finally:
            back.close()
    finally:
        feed.close()
    assert not recovered.queue.stale and recovered.queue.waiting == 1
    assert recovered.queue.error is None


class FlakyKube:
    """A stand-in Kubernetes feed (a mock: the real watches are tested in tests/cluster)."""

    def __init__(self) -> None:
        self.fail = False
        self.desired = 1

    def read(self, now: datetime) -> KubeReading:
        if self.fail:
            raise ConnectionError("apiserver went away")
        return KubeReading(
            replicas=ReplicaState(desired=self.desired, ready=1),
            nodes=NodeState(
                nodes=(GpuNode(name="n", instance_type="g5.2xlarge", capacity_type="spot"),)
            ),
            hpa=HpaState(desired=self.desired),
            targets=(),
        )


def test_failing_kube_feed_shows_last_replicas_stale_and_invents_no_scale_event() -> None:
    kube = FlakyKube()
    asm = _assembler(kube=kube, max_replicas=10)
    first = asm.tick(T0)
    assert first.replicas.desired == 1 and first.replicas.max == 10
    assert first.nodes.nodes[0].price_per_hour == PriceTable().spot["g5.2xlarge"]
    kube.fail = True
    down = asm.tick(T0 + timedelta(seconds=7))
    assert down.replicas.stale and down.replicas.desired == 1 and down.replicas.age_s == 7.0
    assert "apiserver went away" in (down.replicas.error or "")
    assert down.events == ()
    kube.fail, kube.desired = False, 4
    back = asm.tick(T0 + timedelta(seconds=8))
    assert not back.replicas.stale
    assert [e.message for e in back.events if e.kind == "scale"] == []  # previous one was stale


def test_scale_event_and_running_cost() -> None:
    kube = FlakyKube()
    asm = _assembler(kube=kube)
    asm.tick(T0)
    kube.desired = 5
    snap = asm.tick(T0 + timedelta(hours=1))
    assert [e.message for e in snap.events if e.kind == "scale"] == ["Scaling 1 → 5"]
    assert snap.cost.total == pytest.approx(PriceTable().spot["g5.2xlarge"])


def test_sources_never_configured_are_reported_as_no_data() -> None:
    snap = _assembler().tick(T0)
    assert snap.replicas.stale and snap.replicas.age_s is None
    assert snap.queue.stale and snap.queue.age_s is None


def test_talk_state_follows_the_timeline() -> None:
    snap = _assembler().tick(T0 + timedelta(seconds=130))
    assert snap.talk.phase == "burst" and snap.talk.next_phase == "steady"
    assert snap.talk.next_in_s == pytest.approx(110.0)


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[str]:
    fake = FakeVLLM()
    upstream = ServerThread(fake).start()
    settings = load_settings(
        env={},
        upstream=upstream.url,
        store=tmp_path / "store",
        admin_token=ADMIN["Authorization"].split()[1],
        rate_chat_per_min=0,
        rate_survey_per_min=0,
        rate_address_per_min=0,
    )
    server = ServerThread(create_app(settings)).start()
    yield server.url
    server.stop()
    upstream.stop()


def test_gateway_feed_reads_mode_survey_count_and_chat_rate(gateway: str) -> None:
    http = httpx.Client(base_url=gateway, timeout=10)
    # a phone's identity, obtained as the page obtains one (before the measured window)
    phone = {"X-Tubedemo-Identity": http.post("/api/identity").json()["token"]}
    feed = HttpGatewayFeed(gateway)
    asm = _assembler(gateway=feed)
    try:
        first = asm.tick(T0)
        assert first.audience.mode == "quiz" and first.audience.survey_count == 0
        for _ in range(4):
            r = http.post(
                "/v1/chat/completions",
                headers=phone,
                json={"model": "llama", "messages": [{"role": "user", "content": "Tube?"}]},
            )
            assert r.status_code == 200, r.text
        assert http.post("/api/admin/mode", headers=ADMIN, json={"mode": "survey"}).is_success
        r = http.post(
            "/api/survey/submit",
            json={"rating": 5, "company": "TfL", "name": None},
            headers=phone,
        )
        assert r.status_code == 200, r.text
        snap = asm.tick(T0 + timedelta(seconds=2))
    finally:
        feed.close()
        http.close()
    assert snap.audience.mode == "survey" and snap.audience.survey_count == 1
    assert snap.gateway.requests_per_s == pytest.approx(2.0)
    assert not snap.gateway.stale
    assert [e.message for e in snap.events if e.kind == "mode"] == ["Audience page → survey"]


def test_unreachable_gateway_is_stale_not_a_crash() -> None:
    feed = HttpGatewayFeed("http://127.0.0.1:9", timeout=0.5)
    try:
        snap = _assembler(gateway=feed).tick(T0)
    finally:
        feed.close()
    assert snap.gateway.stale and snap.audience.stale and snap.gateway.error


class Targets:
    """A stand-in Kubernetes feed that only lists scrape targets (a mock for this one test)."""

    def __init__(self, targets: tuple[MetricsTarget, ...]) -> None:
        self.targets = targets

    def read(self, now: datetime) -> KubeReading:
        return KubeReading(
            replicas=ReplicaState(), nodes=NodeState(), hpa=HpaState(), targets=self.targets
        )


def test_a_replica_that_joins_counts_once_it_has_been_scraped_twice(
    engines: list[FakeEngine],
) -> None:
    _, b = engines
    first, both = _targets(engines)[:1], _targets(engines)
    kube = Targets(first)
    feed = HttpMetricsFeed()
    asm = _assembler(kube=kube, metrics=feed)
    try:
        asm.tick(T0)
        kube.targets = both  # scale-up: vllm-1 became ready
        asm.tick(T0 + timedelta(seconds=1))
        for _ in range(4):
            b.finish(ttft=0.2, e2e=4.0, tokens=100)
        snap = asm.tick(T0 + timedelta(seconds=3))
    finally:
        feed.close()
    # vllm-1's own baseline is 2 s old: 4 requests / 2 s, long before the 10 s window has passed
    assert snap.perf.requests_per_s == pytest.approx(2.0)
    assert snap.perf.ttft_p50_s is not None
