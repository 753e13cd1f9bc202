"""Warm capacity in the twin (scaling.warm_capacity): placeholder pods hold GPU nodes Ready around
the burst, a vLLM pod preempts one and pays only the pod's start-up, Karpenter replaces the
headroom, and simulate prints what it costs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tubedemo.core.config import DemoConfig, config_from_dict
from tubedemo.core.errors import ConfigError, TwinError
from tubedemo.twin.forecast import warm_window
from tubedemo.twin.load import Load
from tubedemo.twin.startup import model_load_seconds
from tubedemo.twin.world import World

# The prepared EKS path (image on a snapshot, weights from S3), the queue's loop alone.
PREPARED: dict[str, Any] = {
    "gpu_pool": {"image_snapshot_id": "snap-0123456789abcdef0"},
    "model": {"weights_uri": "s3://weights/llama-3.1-8b-instruct/"},
}


def warm(**fields: Any) -> DemoConfig:
    scaling = {"proactive": "off", "warm_capacity": {"replicas": 1, **fields}}
    return config_from_dict({**PREPARED, "scaling": scaling})


def test_the_window_opens_a_lead_before_the_busiest_phase_and_closes_at_its_end() -> None:
    # the default talk: the burst (2-4 min) needs the most replicas
    assert warm_window(warm()) == (60.0, 240.0)
    assert warm_window(warm(lead=30.0, until="steady")) == (90.0, 600.0)
    assert warm_window(config_from_dict(PREPARED)) is None


def test_a_window_ending_before_it_starts_is_refused_in_one_line() -> None:
    with pytest.raises(TwinError, match="warm-up"):
        warm_window(warm(lead=0.0, until="warm-up"))


def test_until_must_name_a_phase_and_the_local_profile_has_no_gpu_nodes_to_keep() -> None:
    with pytest.raises(ConfigError, match="not a timeline phase"):
        warm(until="encore")
    with pytest.raises(ConfigError, match="local profile has no GPU nodes"):
        config_from_dict({"profile": "local", "scaling": {"warm_capacity": {"replicas": 1}}})


def test_a_vllm_pod_preempts_the_placeholder_and_pays_only_the_pods_start_up() -> None:
    config = warm()
    world = World(config)
    Load(world)
    world.run_until(119.0)
    # the placeholder's node is Ready before the burst, and holds its GPU
    (held,) = [n for n in world.nodes if any(p in world.placeholders for p in n.pods)]
    assert held.is_ready
    world.run_until(240.0)
    preempted = [e for e in world.events if "preempts warm-1" in e.message]
    assert preempted, [e.message for e in world.events]
    first = preempted[0]
    pod = next(p for p in world.pods if first.message.startswith(p.name + " "))
    assert pod.node is held
    assert pod.ready_at == pytest.approx(first.time + model_load_seconds(config))
    assert pod.ready_at < 240.0  # Ready inside the burst
    # the placeholder Deployment made a new one, and Karpenter launched a node for it
    assert world.placeholders[1].created_at == first.time
    assert world.placeholders[1].nominated is not None or world.placeholders[1].node is not None


def test_the_placeholders_go_when_the_window_closes_and_their_cost_is_counted() -> None:
    world = World(warm())
    Load(world)
    world.run_until(900.0)
    assert all(not p.live for p in world.placeholders)
    assert world.warm_cost() > 0
    assert world.warm_cost() < world.cost()
    assert World(config_from_dict(PREPARED)).warm_cost() == 0


def test_simulate_shows_a_replica_ready_in_the_burst_earlier_than_without(tmp_path: Path) -> None:
    def burst(*sets: str) -> tuple[dict[str, Any], dict[str, Any]]:
        args = [a for s in sets for a in ("--set", s)]
        done = subprocess.run(
            [sys.executable, "-m", "tubedemo", "simulate", "--json", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
        )
        assert done.returncode == 0, done.stderr
        document: dict[str, Any] = json.loads(done.stdout)
        return document, document["phases"]["burst"]

    cold, cold_burst = burst("scaling.proactive=off")
    hot, hot_burst = burst("scaling.proactive=off", "scaling.warm_capacity.replicas=1")
    assert cold_burst["ready"]["max"] == 1
    assert hot_burst["ready"]["max"] == 2
    assert cold["warm_capacity_cost"] == 0
    assert 0 < hot["warm_capacity_cost"] < hot["cost"]
