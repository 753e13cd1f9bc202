"""The fleet on an injected clock: it follows the clock x speed, and can simulate the room."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tubedemo.core.config import config_from_dict
from tubedemo.rehearsal.fleet import Fleet
from tubedemo.telemetry.snapshot import NodeState, ReplicaState


class Clock:
    """A settable clock (the fleet takes any callable returning seconds)."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_fleet_time_is_wall_time_times_speed() -> None:
    clock = Clock()
    fleet = Fleet(config_from_dict({}), clock, speed=10.0)
    clock.t += 3.0
    fleet.advance()
    assert fleet.now == 30.0
    assert fleet.real_delay(30.0) == 3.0


def test_simulated_audience_loads_the_replicas_without_any_http() -> None:
    config = config_from_dict({"twin": {"audience": {"join_at": "10s", "join_over": "20s"}}})
    clock = Clock()
    fleet = Fleet(config, clock, speed=1.0, audience=True)
    clock.t += 60.0
    fleet.advance()
    asked = [r for r in fleet.world.finished if r.source == "audience"]
    assert asked
    text = fleet.replica_metrics("vllm-1")
    assert text is not None
    families = {f.name: f for f in text_string_to_metric_families(text.text().decode())}
    ttft = families["vllm:time_to_first_token_seconds"]
    count = next(s.value for s in ttft.samples if s.name.endswith("_count"))
    assert count >= len([r for r in asked if r.replica == "vllm-1"])


def test_state_uses_the_dashboards_snapshot_shapes() -> None:
    clock = Clock()
    fleet = Fleet(config_from_dict({}), clock, speed=1.0)
    state = fleet.state(lambda name: f"http://x/pods/{name}/metrics")
    replicas = ReplicaState.model_validate(state["replicas"])
    nodes = NodeState.model_validate(state["nodes"])
    assert replicas.ready == 1 and replicas.pods[0].name == "vllm-1"
    assert nodes.nodes[0].instance_type == "g5.2xlarge"
    assert state["targets"] == [{"name": "vllm-1", "url": "http://x/pods/vllm-1/metrics"}]


def test_start_talk_makes_now_talk_second_zero_and_the_twins_k6_load_starts_from_there() -> None:
    config = config_from_dict(
        {
            "twin": {"audience": {"size": 0}},
            "timeline": {"phases": [{"name": "only", "at": "0s", "duration": "1m", "vus": 2}]},
            "talk": {"duration": "1m"},
        }
    )
    clock = Clock()
    fleet = Fleet(config, clock, speed=1.0, k6_model=True, pods_from_cluster=True)
    fleet.sync_pods({"vllm-abc": True})
    clock.t += 500.0  # `up` takes a while in the lab: the talk has not started
    fleet.start_talk()
    assert fleet.now == 0.0 and fleet.world.sent == 0
    fleet.sync_pods({"vllm-abc": True})
    clock.t += 10.0
    fleet.advance()
    assert fleet.now == 10.0
    k6 = [r for r in fleet.world.finished if r.source == "k6"]
    assert k6 and all(r.replica == "vllm-abc" for r in k6)  # the lab's pod served them
    try:
        fleet.start_talk()
    except RuntimeError as exc:
        assert "lose them" in str(exc)
    else:
        raise AssertionError("start_talk after requests must refuse")


def _gauges(fleet: Fleet) -> dict[str, float]:
    fleet.advance()
    families = text_string_to_metric_families(fleet.forecast_text().decode())
    samples = [s for f in families for s in f.samples]
    return {s.name: s.value for s in samples}


def _forecast(fleet: Fleet) -> float:
    gauges = _gauges(fleet)
    assert set(gauges) == {"tubedemo_forecast_replicas", "tubedemo_warm_capacity_replicas"}
    return gauges["tubedemo_forecast_replicas"]


def _warm(fleet: Fleet) -> float:
    return _gauges(fleet)["tubedemo_warm_capacity_replicas"]


def test_the_lab_fleet_serves_the_warm_window_on_the_talks_clock_and_holds_no_placeholder() -> None:
    # the lab's placeholders are the real Deployment's, scaled by KEDA from this series: 0
    # before the talk, 2 from a minute before the burst (1m) to the end of steady (10m), then 0
    warm = config_from_dict(
        {"scaling": {"warm_capacity": {"replicas": 2, "lead": 60, "until": "steady"}}}
    )
    clock = Clock()
    fleet = Fleet(warm, clock, speed=10.0, pods_from_cluster=True)
    clock.t += 30.0
    assert _warm(fleet) == 0
    fleet.start_talk()
    assert _warm(fleet) == 0
    clock.t += 6.5  # 1m05s of talk time
    assert _warm(fleet) == 2
    assert fleet.world.placeholders == []  # the twin's own placeholders stay out of the lab
    clock.t += 54.0  # 10m05s
    assert _warm(fleet) == 0


def test_the_lab_fleet_serves_the_timelines_forecast_on_the_talks_clock_from_its_start() -> None:
    # what the gateway's /forecast serves on EKS once `show` posted it: 0 before the talk
    # (the lab's `up`), then the default talk's steps 4 (burst's lead), 2 at 4m, 1 at 10m
    proactive = config_from_dict({"scaling": {"proactive": "timeline"}})
    clock = Clock()
    fleet = Fleet(proactive, clock, speed=10.0, pods_from_cluster=True)
    clock.t += 30.0
    assert _forecast(fleet) == 0
    fleet.start_talk()
    assert _forecast(fleet) == 4
    clock.t += 24.5  # 4m05s of talk time at 10x
    assert _forecast(fleet) == 2
    clock.t += 36.0
    assert _forecast(fleet) == 1
    reactive = Fleet(config_from_dict({}), clock, speed=10.0, pods_from_cluster=True)
    reactive.start_talk()
    assert _forecast(reactive) == 0


def _waiting(fleet: Fleet) -> float:
    families = text_string_to_metric_families(fleet.queue_metrics_text().decode())
    (sample,) = next(f for f in families if f.name == "vllm_num_requests_waiting").samples
    return float(sample.value)


def test_a_busy_pod_that_loses_readiness_keeps_serving_and_counting_its_queue() -> None:
    # one sequence per engine: every request past the first waits in that engine's queue
    config = config_from_dict(
        {"model": {"max_num_seqs": 1}, "twin": {"engine": {"output_tokens": 150}}}
    )
    clock = Clock()
    fleet = Fleet(config, clock, speed=1.0, pods_from_cluster=True)
    fleet.sync_pods({"vllm-busy": True})
    held = [fleet.submit(prompt_tokens=100, max_tokens=150) for _ in range(3)]
    assert _waiting(fleet) == 2

    # the kubelet's prober gave up on it (a Running pod, Ready False); a second pod serves
    fleet.sync_pods({"vllm-busy": False, "vllm-other": True})
    assert _waiting(fleet) == 2  # its queue still counts, as the rendered collector scrapes it
    targets = fleet.state(lambda name: name)["targets"]
    assert {t["name"] for t in targets} == {"vllm-busy", "vllm-other"}
    assert fleet.replica_metrics("vllm-busy") is not None
    fresh = [fleet.submit(prompt_tokens=100, max_tokens=5) for _ in range(3)]
    assert {r.replica for r in fresh} == {"vllm-other"}  # out of the Service: no new requests

    clock.t += 120.0  # longer than prestop_sleep + shutdown_timeout: it is not being stopped
    fleet.sync_pods({"vllm-busy": False, "vllm-other": True})
    assert all(r.status == "done" and r.replica == "vllm-busy" for r in held)
    assert _waiting(fleet) == 0

    fleet.sync_pods({"vllm-busy": True, "vllm-other": True})  # its probe passes again
    again = [fleet.submit(prompt_tokens=100, max_tokens=5) for _ in range(2)]
    assert {r.replica for r in again} == {"vllm-busy", "vllm-other"}
