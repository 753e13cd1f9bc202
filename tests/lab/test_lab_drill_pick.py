"""Which node the lab's spot drill interrupts: the oldest NodeClaim, spot first, whose node has a
Ready vLLM pod (EC2 interrupts spot only; the twin's drill takes the oldest spot node)."""

from __future__ import annotations

from typing import Any

from tubedemo.lab.drill import Drill, pick


def _pod(name: str, node: str, ready: bool = True) -> dict[str, Any]:
    status = "True" if ready else "False"
    return {
        "metadata": {"name": name},
        "spec": {"nodeName": node},
        "status": {"conditions": [{"type": "Ready", "status": status}]},
    }


def _claim(name: str, node: str, created: str, capacity: str = "spot") -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "creationTimestamp": created,
            "labels": {"karpenter.sh/capacity-type": capacity},
        },
        "status": {"nodeName": node},
    }


def test_the_oldest_spot_node_serving_a_replica_is_interrupted() -> None:
    pods = [
        _pod("vllm-a", "n-old-od"),
        _pod("vllm-b", "n-spot"),
        _pod("vllm-c", "n-spot"),
        _pod("vllm-d", "n-new-spot"),
        _pod("vllm-e", "n-idle", ready=False),
    ]
    claims = [
        _claim("c-old-od", "n-old-od", "2026-12-07T10:00:00Z", "on-demand"),
        _claim("c-spot", "n-spot", "2026-12-07T11:00:00Z"),
        _claim("c-new-spot", "n-new-spot", "2026-12-07T12:00:00Z"),
        _claim("c-oldest-idle", "n-idle", "2026-12-07T09:00:00Z"),
    ]
    assert pick(pods, claims) == Drill("c-spot", "n-spot", "spot", ("vllm-b", "vllm-c"))
    # no spot node serving: the on-demand one (a presenter's drill still shows the drain)
    assert pick(pods[:1], claims) == Drill("c-old-od", "n-old-od", "on-demand", ("vllm-a",))
    assert pick([_pod("vllm-e", "n-idle", ready=False)], claims) is None
