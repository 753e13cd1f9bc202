"""Twin vs lab agreement: the figures `lab compare` and `nox -s bench -- lab` print."""

from __future__ import annotations

import itertools

from tubedemo.core.config import DemoConfig, config_from_dict
from tubedemo.rehearsal.agreement import (
    ScaleSample,
    agree,
    at_hpa_phase,
    cheapest_types,
    fewest_desired,
    first_scale_up,
    hpa_phase,
    likely,
    need_at_target,
    node_count_odds,
    scale_events,
    twin_ensemble,
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


def test_node_count_odds_are_the_shares_of_the_ensemble_at_each_time() -> None:
    ensemble = [
        _run([(0, 1, 1, 1), (100, 4, 4, 2)]),
        _run([(0, 1, 1, 1), (100, 4, 4, 3)]),
        _run([(0, 1, 1, 1), (90, 4, 4, 3), (110, 4, 4, 4)]),
        _run([(0, 1, 1, 1), (100, 4, 4, 3)]),
    ]
    early, mark = node_count_odds(ensemble, [50, 100])
    assert early == {1: 1.0}
    assert mark == {2: 0.25, 3: 0.75}  # the last sample at or before the mark counts
    assert likely(mark, 2) and likely(mark, 3)
    assert not likely(mark, 4) and not likely(mark, 1)


def test_a_count_the_ensemble_gives_less_than_one_time_in_ten_is_unlikely() -> None:
    odds = node_count_odds([_run([(0, 1, 1, 4 if i == 0 else 3)]) for i in range(11)], [0])[0]
    assert odds[4] < 0.1 and not likely(odds, 4) and likely(odds, 3)


def test_the_twin_ensemble_covers_seeds_and_hpa_phases() -> None:
    cfg = _config()
    ensemble = twin_ensemble(cfg, 1, seeds=[1, 2], phases=3)
    assert len(ensemble) == 6
    # phases outer, seeds inner: seed 1 at first_sync 5, 10 and 15 s scales up on each rhythm
    firsts = [first_scale_up(run) for run in ensemble[::2]]
    assert None not in firsts
    assert sorted(t % 15 for t in firsts if t is not None) == [0, 5, 10]


def test_the_hpa_phase_is_read_off_the_first_change_of_desired_replicas() -> None:
    # sampled every second: the change showed at 126, so it happened in (125, 126]
    lab = _run([(t, 1 if t < 126 else 4, 1, 1) for t in range(0, 200)])
    assert hpa_phase(lab, 15) == 125.5 % 15
    assert hpa_phase(_run([(t, 1, 1, 1) for t in range(0, 60)]), 15) is None
    on_the_beat = _run([(t, 1 if t < 135 else 3, 1, 1) for t in (0, 120, 135)])
    assert hpa_phase(on_the_beat, 15) == 127.5 % 15


def test_the_twin_at_the_hpa_phase_read_off_a_run_scales_up_on_that_run_s_beat() -> None:
    cfg = _config()
    seen = twin_samples(simulate(at_hpa_phase(cfg, 7.0)))
    phase = hpa_phase(seen, cfg.twin.hpa.sync_period)
    assert phase is not None and abs(phase - 7.0) <= 0.5
    again = twin_samples(simulate(at_hpa_phase(cfg, phase)))
    seen_at, again_at = first_scale_up(seen), first_scale_up(again)
    assert seen_at is not None and again_at is not None
    assert abs(again_at - seen_at) <= 1


def test_the_fewest_desired_replicas_are_read_within_the_phase_only() -> None:
    run = _run([(230, 10, 1, 3), (240, 10, 4, 3), (300, 3, 3, 2), (600, 1, 1, 1)])
    assert fewest_desired(run, 240, 600) == 3
    assert fewest_desired(run, 700, 800) is None


def test_the_steady_phase_needs_the_replicas_its_load_fills_at_the_formula_s_target() -> None:
    # 30 VUs of the default steady phase keep ~25 requests in flight: 4 replicas at 8 each,
    # twice what the forecast sizes at the engine's knee (16 each)
    config = DemoConfig()
    assert need_at_target(config, "steady") == 4
    wider = config.model_copy(update={"scaling": config.scaling.model_copy(update={"target": 16})})
    assert need_at_target(wider, "steady") == 2


def test_the_cheapest_type_is_priced_for_the_capacity_karpenter_launches() -> None:
    assert cheapest_types(DemoConfig()) == {"g5.2xlarge"}
    dear_spot = config_from_dict(
        {"prices": {"spot": {"g5.2xlarge": 9.0, "g5.4xlarge": 1.0, "g5.12xlarge": 9.0}}}
    )
    assert cheapest_types(dear_spot) == {"g5.4xlarge"}


def test_a_scale_up_before_the_twin_s_first_frame_counts_from_the_talk_s_start() -> None:
    # proactive: the forecast asks for 4 at the HPA's first sync, 0.5 s in, before the twin's
    # first frame (one tick); the lab's samples start at 1 and show the same rise
    base = DemoConfig()
    proactive = base.model_copy(
        update={"scaling": base.scaling.model_copy(update={"proactive": "timeline"})}
    )
    twin = twin_samples(simulate(at_hpa_phase(proactive, 0.5)))
    assert twin[0].desired > 1
    lab = _run([(0, 1, 1, 1), (1, 4, 1, 1)])
    result = agree(proactive, twin, lab)
    assert result.twin_first_scale_up == twin[0].time
    assert result.first_scale_up_gap is not None and result.first_scale_up_gap <= 1


def test_the_twin_ensemble_spreads_karpenter_s_disruption_phase_over_its_seeds() -> None:
    # one seed twice at one HPA phase: only the disruption loop's phase differs (0, then
    # 0.618 of the 50 s poll the lab runs at speed 5), and with it when empty nodes go
    first, second = twin_ensemble(DemoConfig(), 5, seeds=[0, 0], phases=1)
    removals = [
        [b.time for a, b in itertools.pairwise(run) if b.node_count < a.node_count]
        for run in (first, second)
    ]
    assert removals[0] and removals[1] and removals[0] != removals[1]
