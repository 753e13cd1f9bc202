"""One twin-to-Snapshot view: ``simulate`` and the rehearsal's fleet report the same cluster."""

from __future__ import annotations

from typing import Any

from tubedemo.core.config import config_from_dict
from tubedemo.rehearsal.fleet import Fleet
from tubedemo.telemetry.snapshot import HpaState, NodeState, ReplicaState
from tubedemo.twin.load import Load
from tubedemo.twin.simulate import simulate, snapshots

# The EKS path as the README prepares it (image on a snapshot, weights streamed from S3): the
# twin's start-up follows the render, and these tests are about scaling, not a cold hub pull.
PREPARED: dict[str, Any] = {
    "gpu_pool": {"image_snapshot_id": "snap-0123456789abcdef0"},
    "model": {"weights_uri": "s3://weights/llama-3.1-8b-instruct/"},
}


class Clock:
    """A settable clock starting at talk second 0 (the fleet takes any callable)."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_simulate_and_the_fleet_give_the_same_cluster_snapshot_for_the_same_world() -> None:
    # A short talk that still queues, scales out and launches nodes, so pods and nodes of every
    # phase (pending, loading, Ready, terminating) and the HPA's metric are compared.
    config = config_from_dict(
        {
            "talk": {"duration": "8m"},
            "timeline": {
                "phases": [
                    {"name": "burst", "at": "0s", "duration": "5m", "vus": 40},
                    {"name": "quiet", "at": "5m", "duration": "3m", "vus": 1},
                ]
            },
            "twin": {"tail": "2m", "audience": {"size": 0}},
            **PREPARED,
        }
    )
    recorded = list(snapshots(config, simulate(config)))
    clock = Clock()
    fleet = Fleet(config, clock)
    Load(fleet.world)  # the load simulate runs: the timeline's k6 phases (the room is off)
    scaled = launched = False
    for snapshot in recorded:
        clock.t = snapshot.talk.elapsed_s
        fleet.advance()
        state = fleet.state(lambda name: f"http://x/{name}")
        assert ReplicaState.model_validate(state["replicas"]) == snapshot.replicas
        assert NodeState.model_validate(state["nodes"]) == snapshot.nodes
        assert HpaState.model_validate(state["hpa"]) == snapshot.hpa
        # The HPA's current count is the ReplicaSet's: serving plus not-yet-Ready pods.
        assert snapshot.hpa.current == snapshot.replicas.ready + snapshot.replicas.pending
        scaled |= snapshot.replicas.ready > 1
        launched |= bool(snapshot.nodes.launching)
    assert scaled and launched, "the talk must exercise scaling for the comparison to mean much"


def test_the_view_reports_the_milestones_reached_and_a_notice_against_its_two_minutes() -> None:
    config = config_from_dict(
        {
            "twin": {"startup": {"spot_interruptions": ["60s"]}, "audience": {"size": 0}},
            "timeline": {"phases": [{"name": "load", "at": 0, "duration": 600, "vus": 2}]},
            **PREPARED,
        }
    )
    frames = list(snapshots(config, simulate(config)))
    during = next(s for s in frames if s.talk.elapsed_s == 100.0)
    (notice,) = during.interruptions
    assert (notice.notice_s_ago, notice.notice_s, notice.pods) == (40.0, 120.0, 1)
    assert notice.replaced_s is None and notice.gone_s is None
    starting = next(p for p in during.replicas.pods if p.phase != "Terminating")
    # created at the notice, its node launched then: nothing reached but (maybe) the node
    assert all(m.at_s <= starting.created_s_ago for m in starting.startup)
    assert all(m.source == "twin" for m in starting.startup)
    after = frames[-1]
    (done,) = after.interruptions
    assert done.gone_s == 120.0 and done.replaced_s is not None and done.replaced_s > 120.0
    new = next(p for p in after.replicas.pods if p.startup)
    assert [m.step for m in new.startup] == ["node_ready", "scheduled", "ready"]
    assert new.startup[-1].at_s == new.created_to_ready_s
