"""Twin vs lab agreement: the figures `lab compare` and `nox -s bench -- lab` print."""

from __future__ import annotations

from tubedemo.core.config import DemoConfig, config_from_dict
from tubedemo.rehearsal.agreement import (
    ScaleSample,
    agree,
    first_scale_up,
    scale_events,
    twin_samples,
)
from tubedemo.twin.simulate import simulate


def _config() -> DemoConfig:
    return config_from_dict(
        {
            "talk": {"duration": "2m"},
            "twin": {"tail": "1m"},
            "timeline": {
                "phases": [
                    {"name": "warm", "at": "0s", "duration": "1m", "vus": 1},
                    {"name": "rush", "at": "1m", "duration": "1m", "vus": 8},
                ]
            },
        }
    )


def _run(points: list[tuple[float, int, int, int]]) -> list[ScaleSample]:
    return [ScaleSample(t, d, r, ("g5.2xlarge",) * n) for t, d, r, n in points]


def test_the_twin_agrees_with_itself_completely() -> None:
    cfg = config_from_dict({})
    samples = twin_samples(simulate(cfg))
    result = agree(cfg, samples, samples)
    assert result.samples == int((cfg.talk.duration + cfg.twin.tail) // 15)
    assert result.share == 1.0 and result.nodes_equal_at_phase_ends and result.meets_target
    assert result.first_scale_up_gap == 0.0
    assert [p.phase for p in result.phase_ends][-1] == "tail"


def test_samples_more_than_one_replica_apart_count_against_the_share() -> None:
    cfg = _config()
    twin = _run([(0, 1, 1, 1), (60, 4, 1, 1), (100, 4, 4, 2), (180, 1, 1, 1)])
    lab = _run([(0, 1, 1, 1), (90, 4, 1, 1), (130, 4, 4, 2), (180, 1, 1, 1)])
    result = agree(cfg, twin, lab)
    # 15 s grid 15..180: twin is at 4 from 60, the lab from 90 -> 60 and 75 differ by 3
    assert result.samples == 12 and result.within_one == 10
    assert result.largest_gap == (60.0, 4, 1)
    assert result.twin_first_scale_up == 60 and result.lab_first_scale_up == 90
    assert not result.meets_target  # 83 % and 30 s apart
    # at the rush's end (120 s) the lab's second node is not Ready yet (130 s)
    ends = {p.phase: (p.twin_nodes, p.lab_nodes) for p in result.phase_ends}
    assert ends == {"warm": (1, 1), "rush": (2, 1), "tail": (1, 1)}
    assert not result.nodes_equal_at_phase_ends


def test_scale_events_carry_the_delay_until_ready_replicas_caught_up() -> None:
    samples = _run([(0, 1, 1, 1), (15, 3, 1, 1), (60, 3, 2, 2), (90, 3, 3, 2), (200, 1, 1, 1)])
    events = scale_events(samples)
    assert [(e.time, e.what, e.before, e.after, e.served_after) for e in events] == [
        (15, "desired", 1, 3, 75.0),
        (60, "nodes", 1, 2, None),
        (200, "desired", 3, 1, None),
        (200, "nodes", 2, 1, None),
    ]
    assert first_scale_up(samples) == 15
    assert first_scale_up(samples[:1]) is None
