"""Kubernetes objects -> snapshot groups: the corner cases the real-cluster tests do not reach."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tubedemo.telemetry.kube_view import hpa_state, node_state, pod_state, quantity

NOW = datetime(2026, 11, 27, 9, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "value"),
    [("50", 50.0), ("1500m", 1.5), ("2k", 2000.0), ("1Ki", 1024.0), (3, 3.0), ("x1", None)],
)
def test_quantities_read_as_kubernetes_writes_them(text: object, value: float | None) -> None:
    assert quantity(text) == value


def test_pod_waiting_for_its_image_says_so() -> None:
    pod = {
        "metadata": {"name": "vllm-1", "creationTimestamp": "2026-11-27T09:08:00Z"},
        "spec": {"nodeName": "gpu-a"},
        "status": {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "True",
                    "lastTransitionTime": "2026-11-27T09:08:30Z",
                }
            ],
            "containerStatuses": [{"state": {"waiting": {"reason": "ContainerCreating"}}}],
        },
    }
    state = pod_state(pod, NOW)
    assert (state.ready, state.pending_reason, state.node) == (False, "ContainerCreating", "gpu-a")
    assert state.created_s_ago == 120.0


def test_ready_pod_times_its_cold_start_from_scheduling() -> None:
    pod = {
        "metadata": {"name": "vllm-1", "creationTimestamp": "2026-11-27T09:00:00Z"},
        "spec": {"nodeName": "gpu-a"},
        "status": {
            "phase": "Running",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "True",
                    "lastTransitionTime": "2026-11-27T09:00:45Z",
                },
                {"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-27T09:03:05Z"},
            ],
        },
    }
    state = pod_state(pod, NOW)
    assert state.ready and state.pending_reason is None
    assert (state.scheduled_to_ready_s, state.created_to_ready_s) == (140.0, 185.0)


def test_terminating_pod_is_not_ready() -> None:
    pod = {
        "metadata": {"name": "p", "deletionTimestamp": "2026-11-27T09:09:00Z"},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }
    state = pod_state(pod, NOW)
    assert state.phase == "Terminating" and not state.ready


def test_a_disrupted_spot_node_is_flagged() -> None:
    node = {
        "metadata": {"name": "gpu-a", "labels": {"karpenter.sh/capacity-type": "spot"}},
        "spec": {"taints": [{"key": "karpenter.sh/disrupted", "effect": "NoSchedule"}]},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    (state,) = node_state([node], [], NOW).nodes
    assert state.disruption == "disrupted" and state.capacity_type == "spot"


def test_hpa_reads_current_and_target_of_an_external_metric() -> None:
    hpa = {
        "spec": {
            "minReplicas": 1,
            "maxReplicas": 10,
            "metrics": [{"type": "External", "external": {"target": {"averageValue": "50"}}}],
        },
        "status": {
            "desiredReplicas": 4,
            "currentReplicas": 2,
            "currentMetrics": [
                {"type": "External", "external": {"current": {"averageValue": "175"}}}
            ],
        },
    }
    state = hpa_state(hpa)
    assert (state.desired, state.current, state.metric, state.target) == (4, 2, 175.0, 50.0)


def test_a_pods_start_up_milestones_come_from_its_nodes_and_its_own_conditions() -> None:
    # the waterfall on EKS and in the lab: node Ready, PodScheduled, the container's start and
    # Ready, in seconds after the pod's creation (weights and compile need vLLM's log lines)
    from tubedemo.telemetry.kube_view import replica_state
    from tubedemo.telemetry.waterfall import segments

    def cond(kind: str, at: str) -> dict[str, str]:
        return {"type": kind, "status": "True", "lastTransitionTime": f"2026-11-27T09:{at}Z"}

    pod = {
        "metadata": {"name": "vllm-1", "creationTimestamp": "2026-11-27T09:00:00Z"},
        "spec": {"nodeName": "gpu-a"},
        "status": {
            "phase": "Running",
            "conditions": [cond("PodScheduled", "00:41"), cond("Ready", "02:25")],
            "containerStatuses": [
                {"name": "vllm", "state": {"running": {"startedAt": "2026-11-27T09:00:56Z"}}}
            ],
        },
    }
    node = {"metadata": {"name": "gpu-a"}, "status": {"conditions": [cond("Ready", "00:40")]}}
    (state,) = replica_state(None, [pod], NOW, nodes=[node]).pods
    assert [(m.step, m.at_s, m.source) for m in state.startup] == [
        ("node_ready", 40.0, "node"),
        ("scheduled", 41.0, "pod"),
        ("container_started", 56.0, "pod"),
        ("ready", 145.0, "pod"),
    ]
    assert [(s.step, s.start, s.end) for s in segments(state)] == [
        ("node_ready", 0.0, 40.0),
        ("scheduled", 40.0, 41.0),
        ("container_started", 41.0, 56.0),
        ("ready", 56.0, 145.0),
    ]
    # a pod still loading: the milestones so far; one not bound yet: none
    loading = {**pod, "status": {**pod["status"], "conditions": [cond("PodScheduled", "00:41")]}}
    assert [m.step for m in pod_state(loading, NOW).startup] == ["scheduled", "container_started"]
    assert pod_state({"metadata": pod["metadata"], "status": {}}, NOW).startup == ()
