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
