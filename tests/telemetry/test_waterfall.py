"""A pod's start-up as waterfall segments, from the milestones its source reported."""

from __future__ import annotations

from tubedemo.telemetry.snapshot import PodState, StartupMark
from tubedemo.telemetry.waterfall import segments, shown_steps, total


def mark(step: str, at: float, source: str = "pod") -> StartupMark:
    return StartupMark.model_validate({"step": step, "at_s": at, "source": source})


def test_each_reported_milestone_ends_one_segment_from_the_pods_creation() -> None:
    pod = PodState(
        name="vllm-1",
        ready=True,
        node="gpu-1",
        created_s_ago=300,
        startup=(
            mark("node_ready", 46, "node"),
            mark("scheduled", 47),
            mark("container_started", 60),
            mark("weights_loaded", 95, "vllm_log"),
            mark("compiled", 130, "vllm_log"),
            mark("ready", 136),
        ),
    )
    assert [(s.step, s.start, s.end) for s in segments(pod)] == [
        ("node_ready", 0, 46),
        ("scheduled", 46, 47),
        ("container_started", 47, 60),
        ("weights_loaded", 60, 95),
        ("compiled", 95, 130),
        ("ready", 130, 136),
    ]
    assert all(s.reached for s in segments(pod))
    assert total(pod) == 136


def test_a_source_with_fewer_milestones_gives_longer_segments() -> None:
    # the lab without vLLM's log: the KWOK stages say when the container started and when
    # the pod turned Ready, nothing in between
    pod = PodState(
        name="vllm-2",
        ready=True,
        node="gpu-1",
        created_s_ago=300,
        startup=(mark("node_ready", 44, "node"), mark("container_started", 44), mark("ready", 144)),
    )
    assert [(s.step, s.end) for s in segments(pod)] == [
        ("node_ready", 44),
        ("container_started", 44),
        ("ready", 144),
    ]


def test_a_pod_still_starting_has_its_bar_up_to_now_in_the_step_it_waits_for() -> None:
    pod = PodState(
        name="vllm-3",
        phase="Running",
        node="gpu-1",
        created_s_ago=80,
        startup=(
            mark("node_ready", 45, "node"),
            mark("scheduled", 45),
            mark("container_started", 58),
        ),
    )
    last = segments(pod)[-1]
    assert (last.step, last.start, last.end, last.reached) == ("weights_loaded", 58, 80, False)


def test_a_pod_waiting_for_a_node_has_a_bar_the_warm_replica_has_none() -> None:
    waiting = PodState(name="vllm-4", created_s_ago=20, pending_reason="Unschedulable")
    assert [(s.step, s.end, s.reached) for s in segments(waiting)] == [("node_ready", 20, False)]
    warm = PodState(name="vllm-0", ready=True, node="gpu-0", created_s_ago=900)
    assert segments(warm) == [] and total(warm) is None


def test_a_node_ready_before_the_pod_costs_the_pod_no_time() -> None:
    pod = PodState(
        name="vllm-5",
        ready=True,
        node="gpu-1",
        created_s_ago=200,
        startup=(mark("node_ready", -300, "node"), mark("scheduled", 1), mark("ready", 101)),
    )
    first = segments(pod)[0]
    assert (first.step, first.start, first.end) == ("node_ready", 0, 0)
    assert total(pod) == 101


def test_shown_steps_are_the_milestones_any_pod_reported_in_order() -> None:
    a = PodState(name="a", startup=(mark("ready", 9), mark("node_ready", 1)))
    b = PodState(name="b", startup=(mark("compiled", 5),))
    assert shown_steps([a, b]) == ["node_ready", "compiled", "ready"]
