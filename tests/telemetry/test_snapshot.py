"""The Snapshot model: the shape every source, recorder and screen agrees on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from tests.talk_samples import START, talk_history
from tubedemo.core.config import PriceTable
from tubedemo.telemetry.cost import advance, price_per_hour, priced
from tubedemo.telemetry.events import derive_events
from tubedemo.telemetry.snapshot import (
    SCHEMA_VERSION,
    CostState,
    GpuNode,
    NodeState,
    QueueState,
    ReplicaState,
    Snapshot,
)


def test_every_snapshot_of_a_talk_survives_a_json_round_trip() -> None:
    for snapshot in talk_history():
        assert Snapshot.from_json(snapshot.to_json()) == snapshot


def test_json_line_has_no_newline_so_it_is_one_recording_line() -> None:
    assert "\n" not in talk_history(seconds=200)[-1].to_json()


def test_virtual_commuters_are_the_queue_times_the_multiplier() -> None:
    s = Snapshot(time=START, queue=QueueState(waiting=7, running=8, multiplier=50))
    assert s.virtual_commuters == 350


def test_snapshot_is_immutable() -> None:
    s = Snapshot(time=START)
    with pytest.raises(ValidationError):
        s.queue = QueueState(waiting=3)  # type: ignore[misc]


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValidationError, match="timezone-aware"):
        Snapshot(time=datetime(2026, 1, 1, 9, 0))


def test_other_timezones_are_normalised_to_utc() -> None:
    from datetime import timezone

    s = Snapshot(time=datetime(2026, 1, 1, 10, 0, tzinfo=timezone(timedelta(hours=1))))
    assert s.time == datetime(2026, 1, 1, 9, 0, tzinfo=UTC) and s.time.tzinfo == UTC


def test_a_recording_from_a_newer_schema_is_refused_with_a_hint() -> None:
    line = (
        Snapshot(time=START)
        .to_json()
        .replace(f'"schema_version":{SCHEMA_VERSION}', f'"schema_version":{SCHEMA_VERSION + 1}')
    )
    with pytest.raises(ValidationError, match="upgrade tubedemo"):
        Snapshot.from_json(line)


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        Snapshot.model_validate({"time": START.isoformat(), "queue": {"wating": 3}})


def test_price_comes_from_the_table_by_capacity_type() -> None:
    prices = PriceTable()
    assert price_per_hour(prices, "g5.2xlarge", "spot") == prices.spot["g5.2xlarge"]
    assert price_per_hour(prices, "g5.2xlarge", "on-demand") == prices.on_demand["g5.2xlarge"]
    assert price_per_hour(prices, "p5.48xlarge", "spot") == 0.0


def test_running_cost_integrates_the_rate_that_was_in_force() -> None:
    first = advance(None, None, START, 2.0)
    assert first == CostState(per_hour=2.0, total=0.0)
    half_hour_later = advance(first, START, START + timedelta(minutes=30), 5.0)
    assert half_hour_later.total == pytest.approx(1.0)
    assert half_hour_later.per_hour == 5.0


def test_cost_never_decreases_when_the_clock_steps_back() -> None:
    first = CostState(per_hour=3.0, total=1.0)
    assert advance(first, START, START - timedelta(seconds=10), 3.0).total == 1.0


def test_node_state_rate_sums_every_node_including_not_ready_ones() -> None:
    nodes = priced(
        PriceTable(),
        [
            GpuNode(name="a", instance_type="g5.2xlarge", capacity_type="spot", ready=True),
            GpuNode(name="b", instance_type="g5.12xlarge", capacity_type="on-demand"),
        ],
    )
    state = NodeState(nodes=nodes)
    assert state.ready_count == 1
    assert state.per_hour == pytest.approx(0.55 + 5.672)


def test_scaling_event_names_old_and_new_replica_counts() -> None:
    a = Snapshot(time=START, replicas=ReplicaState(desired=2))
    b = Snapshot(time=START + timedelta(seconds=1), replicas=ReplicaState(desired=5))
    (event,) = derive_events(a, b)
    assert event.kind == "scale" and event.message == "Scaling 2 → 5"


def test_a_stale_replica_source_does_not_invent_a_scaling_event() -> None:
    a = Snapshot(time=START, replicas=ReplicaState(desired=2))
    b = Snapshot(time=START + timedelta(seconds=1), replicas=ReplicaState(desired=0, stale=True))
    assert derive_events(a, b) == ()


def test_scripted_talk_reports_node_launch_pod_ready_phase_and_mode_events() -> None:
    kinds = {e.kind for s in talk_history() for e in s.events}
    assert {"scale", "node_launched", "pod_ready", "phase", "mode"} <= kinds


def test_spot_interruption_is_its_own_event() -> None:
    node = GpuNode(name="gpu-x", capacity_type="spot", ready=True)
    a = Snapshot(time=START, nodes=NodeState(nodes=(node,)))
    b = Snapshot(
        time=START + timedelta(seconds=1),
        nodes=NodeState(nodes=(node.model_copy(update={"disruption": "interrupted"}),)),
    )
    assert [e.kind for e in derive_events(a, b)] == ["spot_interruption"]


def test_a_recording_of_schema_1_without_start_up_marks_or_interruptions_still_reads() -> None:
    line = (
        '{"schema_version":1,"time":"2026-11-27T09:00:00Z","replicas":{"desired":2,"ready":1,'
        '"pending":1,"pods":[{"name":"vllm-1","phase":"Pending","created_s_ago":12.0}]}}'
    )
    snapshot = Snapshot.from_json(line)
    assert snapshot.replicas.pods[0].startup == ()
    assert snapshot.interruptions == ()
