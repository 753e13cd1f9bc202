"""The timeline plan: schedule of phases, flips and cues, and the k6 scenarios generated from it."""

from __future__ import annotations

import pytest

from tubedemo.core.config import K6Config, TimelineConfig, config_from_dict
from tubedemo.core.errors import UsageError
from tubedemo.core.timeline import (
    build_schedule,
    burst_scenario,
    hold_scenario,
    k6_scenarios,
    mode_at,
    next_phase_start,
)

K6 = K6Config()


def timeline(*phases: dict[str, object]) -> TimelineConfig:
    return TimelineConfig.model_validate({"phases": list(phases)})


DEFAULT = config_from_dict({}).timeline


def test_default_schedule_starts_each_phase_with_its_cue_and_flips_to_survey_at_28m() -> None:
    schedule = build_schedule(DEFAULT, 1800)
    starts = [(e.at, e.phase, e.mode) for e in schedule.events if e.kind == "phase"]
    assert starts == [
        (0, "warm-up", "quiz"),
        (120, "burst", None),
        (240, "steady", None),
        (600, "cooldown", None),
        (1680, "survey", "survey"),
    ]
    assert schedule.events[-1].kind == "end" and schedule.events[-1].at == 1800
    assert all(e.cue for e in schedule.events if e.kind == "phase")


def test_speed_compresses_wall_time_but_not_talk_time() -> None:
    schedule = build_schedule(DEFAULT, 1800, speed=10)
    assert schedule.wall(1680) == pytest.approx(168)
    assert schedule.wall_duration == pytest.approx(180)
    assert schedule.talk(168) == pytest.approx(1680)


def test_from_inside_a_phase_reasserts_the_rooms_mode_and_the_phase_cue_at_once() -> None:
    schedule = build_schedule(DEFAULT, 1800, start_at=300)
    first = schedule.events[0]
    assert (first.at, first.phase, first.mode, first.joined) == (300, "steady", "quiz", True)
    assert schedule.wall(300) == 0
    assert [e.phase for e in schedule.events[1:]] == ["cooldown", "survey", ""]


def test_from_exactly_at_a_phase_start_keeps_the_mode_set_earlier() -> None:
    schedule = build_schedule(DEFAULT, 1800, start_at=240)
    assert (schedule.events[0].phase, schedule.events[0].mode) == ("steady", "quiz")
    assert not schedule.events[0].joined


def test_from_in_a_gap_reasserts_the_mode_without_a_phase() -> None:
    tl = timeline(
        {"name": "a", "at": 0, "duration": 10, "vus": 1, "mode": "survey"},
        {"name": "b", "at": 20, "duration": 10, "vus": 1},
    )
    schedule = build_schedule(tl, 60, start_at=15)
    assert (schedule.events[0].at, schedule.events[0].phase, schedule.events[0].mode) == (
        15,
        "",
        "survey",
    )
    assert schedule.events[1].phase == "b"


@pytest.mark.parametrize("start_at", [1800, 4000])
def test_from_at_or_after_the_end_is_refused(start_at: float) -> None:
    with pytest.raises(UsageError, match="after the end of the talk"):
        build_schedule(DEFAULT, 1800, start_at=start_at)


@pytest.mark.parametrize("speed", [0, -1, float("inf"), float("nan")])
def test_speed_must_be_positive_and_finite(speed: float) -> None:
    with pytest.raises(UsageError, match="--speed"):
        build_schedule(DEFAULT, 1800, speed=speed)


def test_default_timeline_gives_one_ramping_vus_scenario_per_loaded_phase() -> None:
    scenarios = k6_scenarios(DEFAULT, K6)
    assert list(scenarios) == ["p01_warm-up", "p02_burst", "p03_steady", "p04_cooldown"]
    joins = scenarios["p02_burst"]
    assert joins["executor"] == "ramping-vus"
    assert joins["startTime"] == "120000ms"
    assert joins["startVUs"] == 20
    assert joins["stages"] == [{"duration": "120000ms", "target": 50}]
    assert joins["exec"] == "quiz"
    assert "externally-controlled" not in str(scenarios)


def test_constant_vus_phase_holds_its_level_over_one_stage() -> None:
    warm = k6_scenarios(DEFAULT, K6)["p01_warm-up"]
    assert (warm["startTime"], warm["startVUs"], warm["stages"]) == (
        "0ms",
        5,
        [{"duration": "120000ms", "target": 5}],
    )


def test_survey_phase_with_no_load_has_no_scenario() -> None:
    assert not any("survey" in name for name in k6_scenarios(DEFAULT, K6))


def test_speed_divides_start_times_and_stage_durations_but_keeps_vus() -> None:
    joins = k6_scenarios(DEFAULT, K6, speed=10)["p02_burst"]
    assert joins["startTime"] == "12000ms"
    assert joins["stages"] == [{"duration": "12000ms", "target": 50}]
    assert joins["startVUs"] == 20


def test_from_mid_ramp_starts_at_the_interpolated_level_and_drops_past_phases() -> None:
    scenarios = k6_scenarios(DEFAULT, K6, start_at=180)
    assert list(scenarios) == ["p02_burst", "p03_steady", "p04_cooldown"]
    joins = scenarios["p02_burst"]
    assert joins["startTime"] == "0ms"
    assert joins["startVUs"] == 35  # 20 -> 50 over 120 s, half-way
    assert joins["stages"] == [{"duration": "60000ms", "target": 50}]
    assert scenarios["p03_steady"]["startTime"] == "60000ms"


def test_rate_phase_becomes_ramping_arrival_rate_per_minute_with_preallocated_vus() -> None:
    tl = timeline({"name": "flood", "at": 10, "duration": 60, "rate": [0.5, 3]})
    scenario = k6_scenarios(tl, K6)["p01_flood"]
    assert scenario["executor"] == "ramping-arrival-rate"
    assert (scenario["startRate"], scenario["timeUnit"]) == (30, "1m")
    assert scenario["stages"] == [{"duration": "60000ms", "target": 180}]
    assert scenario["preAllocatedVUs"] == 30  # 3 req/s x 10 s typical answer
    assert scenario["maxVUs"] == K6.max_vus


def test_preallocated_vus_never_exceed_max_vus() -> None:
    tl = timeline({"name": "flood", "at": 0, "duration": 60, "rate": 50})
    scenario = k6_scenarios(tl, K6Config(max_vus=20))["p01_flood"]
    assert scenario["preAllocatedVUs"] == 20 and scenario["maxVUs"] == 20


def test_load_in_a_survey_phase_runs_the_survey_function() -> None:
    tl = timeline(
        {"name": "quiz", "at": 0, "duration": 10, "vus": 1, "mode": "quiz"},
        {"name": "raffle burst", "at": 10, "duration": 10, "vus": 5, "mode": "survey"},
        {"name": "after", "at": 20, "duration": 10, "vus": 1},
    )
    scenarios = k6_scenarios(tl, K6)
    assert [s["exec"] for s in scenarios.values()] == ["quiz", "survey", "survey"]


def test_scenario_names_keep_only_characters_k6_accepts() -> None:
    tl = timeline({"name": "Q&A: the room (live!)", "at": 0, "duration": 5, "vus": 1})
    assert list(k6_scenarios(tl, K6)) == ["p01_q-a-the-room-live"]


def test_end_at_cuts_scenarios_short() -> None:
    scenarios = k6_scenarios(DEFAULT, K6, end_at=180)
    assert list(scenarios) == ["p01_warm-up", "p02_burst"]
    assert scenarios["p02_burst"]["stages"] == [{"duration": "60000ms", "target": 35}]


def test_hold_keeps_the_current_level_while_paused() -> None:
    hold = hold_scenario(DEFAULT, K6, 180, 600)["hold"]
    assert (hold["executor"], hold["vus"], hold["duration"]) == ("constant-vus", 35, "600000ms")
    assert hold_scenario(DEFAULT, K6, 1700, 600) == {}


def test_burst_needs_a_vu_and_a_positive_duration() -> None:
    assert burst_scenario(3, 10)["burst"]["vus"] == 3
    with pytest.raises(UsageError, match="--vus"):
        burst_scenario(0, 10)
    with pytest.raises(UsageError, match="--duration"):
        burst_scenario(1, 0)


def test_mode_and_next_phase_lookups_follow_the_timeline() -> None:
    assert mode_at(DEFAULT, 0) == "quiz"
    assert mode_at(DEFAULT, 1700) == "survey"
    assert next_phase_start(DEFAULT, 130) == 240
    assert next_phase_start(DEFAULT, 1700) is None
