"""The twin's world: scaling in the audience burst, determinism, Karpenter, spot, consolidation."""

from __future__ import annotations

from typing import Any

import pytest

from tubedemo.core.config import DemoConfig, config_from_dict
from tubedemo.core.errors import TwinError
from tubedemo.twin.load import Load, vu_slots
from tubedemo.twin.startup import image_pull_seconds, model_load_seconds
from tubedemo.twin.world import World

# The EKS path as the README prepares it (image on a snapshot, weights streamed from S3): the
# twin's start-up follows the render, and these tests are about scaling, not a cold hub pull.
PREPARED: dict[str, Any] = {
    "gpu_pool": {"image_snapshot_id": "snap-0123456789abcdef0"},
    "model": {"weights_uri": "s3://weights/llama-3.1-8b-instruct/"},
    # these tests follow the queue's loop (the timeline's forecast: tests/twin/test_forecast.py)
    "scaling": {"proactive": "off"},
}


def run(config: DemoConfig, until: float, seed: int | None = None, step: float = 1.0) -> World:
    world = World(config, seed=seed)
    Load(world)
    t = 0.0
    while t < until:
        t = min(t + step, until)
        world.run_until(t)
    return world


def trace(world: World) -> list[Any]:
    return [
        *[(e.time, e.kind, e.message) for e in world.events],
        *[(r.id, r.status, r.first_token_at, r.finished_at, r.replica) for r in world.finished],
    ]


def test_default_config_scales_beyond_one_replica_in_the_audience_burst() -> None:
    config = config_from_dict(PREPARED)
    world = World(config)
    Load(world)
    audience = config.twin.audience
    most = 0
    t = 0.0
    while t < audience.join_at + audience.join_over + 600:
        t += 5.0
        world.run_until(t)
        most = max(most, sum(1 for p in world.pods if p.serving))
    assert most > 1
    scale_events = [e for e in world.events if e.kind == "scale"]
    assert scale_events[0].time >= audience.join_at


def test_same_seed_gives_an_identical_run() -> None:
    config = DemoConfig()
    assert trace(run(config, 900.0)) == trace(run(config, 900.0))


def test_another_seed_gives_another_run() -> None:
    config = DemoConfig()
    assert trace(run(config, 900.0, seed=1)) != trace(run(config, 900.0, seed=2))


def test_run_is_the_same_whatever_the_step_of_the_driver() -> None:
    config = DemoConfig()
    assert trace(run(config, 600.0, step=0.37)) == trace(run(config, 600.0, step=30.0))


def burst(**extra: Any) -> DemoConfig:
    raw: dict[str, Any] = {
        # Eight slots per replica: 200 phones build a queue that outlives the cold start.
        "model": {"max_num_seqs": 8, **PREPARED["model"]},
        "gpu_pool": dict(PREPARED["gpu_pool"]),
        "scaling": dict(PREPARED["scaling"]),
        "twin": {"audience": {"size": 200, "join_at": "10s", "join_over": "30s"}},
        "timeline": {"phases": [{"name": "idle", "at": 0, "duration": 60, "vus": 0}]},
    }
    for key, value in extra.items():
        section, name = key.split("__")
        if name:
            raw.setdefault(section, {})[name] = value
        else:
            raw[section] = value
    return config_from_dict(raw)


def test_one_big_instance_holds_four_one_gpu_pods() -> None:
    config = burst(gpu_pool__instance_types=["g5.12xlarge"])
    world = World(config)
    Load(world)
    held: dict[str, int] = {}  # the most pods each node held at once
    for second in range(1, 401):
        world.run_until(float(second))
        for node in world.nodes:
            held[node.name] = max(held.get(node.name, 0), len(node.pods))
    big = [n for n in world.nodes if n.created_at > 0]
    assert big
    assert all(n.instance_type == "g5.12xlarge" and n.gpus == 4 for n in big)
    assert max(held[n.name] for n in big) == 4


def test_gpu_limit_caps_the_nodes_karpenter_launches() -> None:
    # validate refuses max_replicas > gpu_limit up front; past it (model_copy does not
    # validate) the HPA asks for ten and the limit bites.
    config = burst(gpu_pool__gpu_limit=3, scaling__max_replicas=3)
    config = config.model_copy(
        update={"scaling": config.scaling.model_copy(update={"max_replicas": 10})}
    )
    world = run(config, 400.0)
    assert sum(n.gpus for n in world.nodes) <= 3
    assert any("gpu_limit" in e.message for e in world.events)


def test_pods_need_node_launch_image_pull_and_model_load() -> None:
    config = burst()
    world = run(config, 600.0)
    startup = config.twin.startup
    new = [p for p in world.pods if p.created_at > 0 and p.is_ready]
    assert new
    cold = min(p.ready_at - p.created_at for p in new)  # type: ignore[operator]
    expected = startup.provisioning_batch + startup.node_launch
    assert cold >= expected + image_pull_seconds(config) + model_load_seconds(config) - 1e-9


def test_injected_spot_interruption_replaces_the_node() -> None:
    config = config_from_dict(
        {
            "twin": {"startup": {"spot_interruptions": ["60s"]}, "audience": {"size": 0}},
            "timeline": {"phases": [{"name": "load", "at": 0, "duration": 600, "vus": 2}]},
            **PREPARED,
        }
    )
    world = run(config, 600.0)
    kinds = [e.kind for e in world.events]
    assert "spot_interruption" in kinds
    first = world.nodes[0]
    assert first.disruption == "interrupted"
    assert first.gone_at == 60.0 + config.twin.startup.spot_notice
    assert sum(1 for p in world.pods if p.serving) == 1
    assert any(n.created_at >= 60.0 and n.alive for n in world.nodes)


def test_no_node_is_consolidated_inside_the_talk_window() -> None:
    raw = burst().model_dump(mode="json")
    raw["talk"]["window_start"] = "2026-11-27T10:00:00Z"
    raw["talk"]["window"] = "20m"
    windowed = config_from_dict(raw)
    world = run(windowed, 1500.0)
    removed = [e.time for e in world.events if e.kind == "node_removed"]
    assert removed and min(removed) >= 1200.0
    open_world = run(burst(), 1500.0)
    assert min(e.time for e in open_world.events if e.kind == "node_removed") < 1200.0


def test_scaled_down_replica_drains_its_requests_instead_of_failing_them() -> None:
    world = run(burst(), 1500.0)
    assert any(e.kind == "scale" and "-> 1 " in e.message for e in world.events)
    failed = [r for r in world.finished if r.status == "failed"]
    assert failed == []


def test_k6_ramp_adds_vus_when_the_line_reaches_them() -> None:
    config = config_from_dict(
        {"timeline": {"phases": [{"name": "up", "at": 0, "duration": 60, "vus": [2, 5]}]}}
    )
    starts = sorted(s.start for s in vu_slots(config.timeline.phases))
    assert starts == [0.0, 0.0, 20.0, 40.0, 60.0][:4]


def test_the_formula_from_the_config_drives_the_scaling() -> None:
    world = run(burst(scaling__formula="max(queue * 5, 1) + 7"), 30.0)
    assert world.hpa_input is not None
    queue = world.hpa_input["queue"]
    assert queue > 0
    assert world.hpa_metric == max(queue * 5, 1) + 7


def test_a_formula_reading_an_unknown_trigger_is_refused() -> None:
    import pytest

    from tubedemo.core.errors import TubedemoError

    with pytest.raises(TubedemoError, match="waiting"):
        World(burst(scaling__formula="max(waiting * 5, 1)"))


def test_replica_removed_with_a_short_shutdown_timeout_fails_what_it_still_runs() -> None:
    raw = burst().model_dump(mode="json")
    raw["model"].update(shutdown_timeout="1s", prestop_sleep="0s")
    raw["gateway"]["max_tokens"] = 4000
    raw["twin"]["engine"].update(output_tokens=1500)
    raw["gateway"]["answer_timeout"] = "30m"
    raw["scaling"]["scale_down"] = {
        "stabilization": "0s",
        "policies": [{"type": "Percent", "value": 100, "period": "15s"}],
    }
    world = run(config_from_dict(raw), 1500.0)
    failed = [r for r in world.finished if r.status == "failed"]
    assert failed
    assert {r.reason for r in failed} == {"shutdown timeout"}
    assert all(r.replica != "vllm-1" for r in failed)


def test_spot_notice_launches_a_replacement_node_at_once() -> None:
    config = config_from_dict(
        {
            "twin": {"startup": {"spot_interruptions": ["60s"]}, "audience": {"size": 0}},
            "timeline": {"phases": [{"name": "load", "at": 0, "duration": 600, "vus": 2}]},
        }
    )
    world = run(config, 70.0)
    spare = [n for n in world.nodes if n.replaces is world.nodes[0]]
    assert len(spare) == 1 and spare[0].created_at == 60.0


def test_pdb_keeps_the_last_healthy_replica_serving_while_the_fleet_is_short() -> None:
    # The burst asks for many replicas; none is ready yet when the notice comes, so the
    # vLLM PDB (maxUnavailable 1) refuses to evict the only healthy one: it serves until
    # EC2 takes the node (a model load longer than the notice keeps every new one unready).
    config = burst(twin__startup={"spot_interruptions": ["60s"], "model_load": "150s"})
    world = run(config, 200.0)
    first = world.pods[0]
    assert world.desired > 2
    assert first.gone_at == 60.0 + config.twin.startup.spot_notice
    assert first.deleting_at == first.gone_at  # never evicted: it went with its node


def test_twin_pdb_matches_the_rendered_vllm_pdb() -> None:
    from tubedemo.manifests.render import render
    from tubedemo.twin.karpenter_loop import PDB_MAX_UNAVAILABLE

    pdbs = [
        m
        for m in render(DemoConfig())
        if m["kind"] == "PodDisruptionBudget" and m["metadata"]["name"] == "vllm"
    ]
    assert [p["spec"]["maxUnavailable"] for p in pdbs] == [PDB_MAX_UNAVAILABLE]


# -- KEDA fallback and Karpenter batching/packing (issue #15) ------------------------------------


def test_keda_fallback_holds_its_replicas_once_failures_exceed_the_threshold() -> None:
    # pkg/fallback/fallback.go: failures 1..failureThreshold return the error (the HPA holds);
    # failure threshold+1 answers target x fallback.replicas, so the HPA proposes 2.
    config = config_from_dict(
        {
            "scaling": {"fallback": {"failure_threshold": 3, "replicas": 2}},
            "twin": {"hpa": {"metric_outages": [[10, 1000]]}, "audience": {"size": 0}},
            "timeline": {"phases": []},
        }
    )
    world = World(config)
    world.run_until(59.0)  # syncs at 15, 30, 45: failures 1, 2, 3
    assert world.desired == 1 and world.metric_failures == 3
    world.run_until(60.0)  # failure 4 > 3: fallback
    assert world.desired == 2
    assert any("fallback" in e.message for e in world.events)


def test_metric_back_resets_the_failure_count() -> None:
    config = config_from_dict(
        {
            "twin": {"hpa": {"metric_outages": [[10, 40]]}, "audience": {"size": 0}},
            "timeline": {"phases": []},
        }
    )
    world = World(config)
    world.run_until(45.0)
    assert world.metric_failures == 0 and world.desired == 1


def _quiet(**overrides: Any) -> DemoConfig:
    base: dict[str, Any] = {
        "twin": {"audience": {"size": 0}},
        "timeline": {"phases": []},
    }
    base.update(overrides)
    return config_from_dict(base)


def test_karpenter_batch_extends_with_each_new_pod_up_to_the_max_window() -> None:
    # batcher.go: pods every 0.5 s keep restarting the 1 s idle timer; the window closes at the
    # 10 s BATCH_MAX_DURATION, and one scheduling round packs everything seen so far.
    world = World(_quiet())
    pods = []

    def pend() -> None:
        pod = world._new_pod()
        pods.append(pod)
        world._want_nodes(pod)

    for k in range(30):
        world.at(100.0 + 0.5 * k, pend)
    world.run_until(109.9)
    assert [n for n in world.nodes if n.created_at > 0] == []
    world.run_until(110.0)
    launched = [n for n in world.nodes if n.created_at > 0]
    assert launched and all(n.created_at == 110.0 for n in launched)


def test_karpenter_batch_closes_after_one_idle_second() -> None:
    world = World(_quiet())

    def pend() -> None:
        world._want_nodes(world._new_pod())

    for at in (100.0, 100.2, 100.4, 100.6):
        world.at(at, pend)
    world.at(103.0, pend)  # after the window closed at 101.6: a batch of its own
    world.run_until(200.0)
    launched = sorted((n.created_at, n.instance_type) for n in world.nodes if n.created_at > 0)
    # Four pods in the first batch share one g5.12xlarge (full); the lone fifth gets the
    # cheapest type that fits it.
    assert launched == [(101.6, "g5.12xlarge"), (104.0, "g5.2xlarge")]


def test_the_hpa_syncs_on_its_own_phase_so_scale_ups_move_with_first_sync() -> None:
    # The HPA's 15 s rhythm starts when it was created, not when the talk starts.
    def scale_times(first_sync: str | None) -> list[float]:
        config = config_from_dict({**PREPARED, "twin": {"hpa": {"first_sync": first_sync}}})
        world = run(config, 400.0)
        return [e.time for e in world.events if e.kind == "scale"]

    default, early = scale_times(None), scale_times("6s")
    assert default and early
    assert all(t % 15 == 0 for t in default)  # one sync period in, then every 15 s
    assert all((t - 6) % 15 == 0 for t in early)
    assert default[0] - early[0] == 9  # the same decision, one phase earlier


def test_a_new_pod_reports_its_start_up_milestones_as_the_twin_plans_them() -> None:
    config = burst()
    world = run(config, 600.0)
    pod = next(p for p in world.pods if p.created_at > 0 and p.is_ready)
    assert pod.node is not None and pod.scheduled_at is not None
    assert pod.milestones["ready"] == pod.ready_at
    bound = max(pod.scheduled_at, pod.node.image_ready_at or 0.0)
    assert pod.ready_at == bound + model_load_seconds(config)
    assert world.pods[0].milestones == {}  # the warm replica served before the talk


def test_a_spot_notice_records_the_drain_and_when_a_replacement_serves() -> None:
    # one replica, one notice: the PDB lets the only pod go at once, the ReplicaSet's new pod
    # waits for the node Karpenter launched on the notice, then loads the model
    config = config_from_dict(
        {
            "twin": {"startup": {"spot_interruptions": ["60s"]}, "audience": {"size": 0}},
            "timeline": {"phases": [{"name": "load", "at": 0, "duration": 600, "vus": 2}]},
            **PREPARED,
        }
    )
    world = run(config, 600.0)
    (notice,) = world.notices
    startup = config.twin.startup
    assert (notice.node, notice.at, notice.pods) == (world.nodes[0], 60.0, 1)
    assert notice.evicted_at == 60.0
    assert notice.drained_at is not None and 60.0 <= notice.drained_at <= 60.0 + startup.spot_notice
    assert notice.gone_at == 60.0 + startup.spot_notice
    replacement = next(p for p in world.pods if p.created_at >= 60.0 and p.is_ready)
    assert notice.replaced_at == replacement.ready_at
    assert any(e.message.startswith("Replacement serving") for e in world.events)


def test_after_the_default_talk_the_last_replica_is_on_the_cheapest_node_type_for_every_seed() -> (
    None
):
    config = config_from_dict(PREPARED)
    cheapest = min(config.gpu_pool.instance_types, key=lambda t: config.prices.spot[t])
    end = config.talk.duration + config.twin.tail
    for seed in range(6):
        world = run(config, end, seed=seed, step=60.0)
        assert [n.instance_type for n in world.nodes if n.alive] == [cheapest], seed


def test_local_profile_puts_every_replica_on_the_clusters_node_in_seconds() -> None:
    # No Karpenter on kind/k3d: the burst's pods go straight onto the cluster's own node and
    # serve once the stand-in passes its probes; nothing is launched, consolidated or billed.
    config = burst(profile__="local")
    world = run(config, 600.0)
    assert [n.name for n in world.nodes] == ["local-node"]
    new = [p for p in world.pods if p.created_at > 0 and p.is_ready]
    assert len(new) >= 2
    assert all(p.ready_at - p.created_at == model_load_seconds(config) for p in new)  # type: ignore[operator]
    assert not any(e.kind in ("node_launched", "node_removed") for e in world.events)
    assert world.cost() == 0


def test_local_profile_refuses_spot_interruptions_it_has_no_node_for() -> None:
    config = burst(profile__="local", twin__startup={"spot_interruptions": [60]})
    with pytest.raises(TwinError, match="local profile has no spot nodes"):
        World(config)
