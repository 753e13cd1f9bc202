"""Proactive scaling from the timeline: the conductor's forecast of the replicas each phase
needs, applied a start-up ahead of it and blended into KEDA's formula with the queue."""

from __future__ import annotations

from pathlib import Path

from tubedemo.core import formula as keda_formula
from tubedemo.core.config import DemoConfig, config_from_dict
from tubedemo.manifests.render import render
from tubedemo.twin.forecast import (
    ForecastStep,
    answer_seconds,
    forecast_at,
    forecast_lead,
    forecast_schedule,
    phase_needs,
)
from tubedemo.twin.simulate import simulate
from tubedemo.twin.startup import new_node_seconds
from tubedemo.twin.world import World


def proactive(**sections: dict[str, object]) -> DemoConfig:
    """The default talk scaled proactively, with these sections on top."""
    raw: dict[str, dict[str, object]] = {"scaling": {"proactive": "timeline"}}
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values}
    return config_from_dict(raw)


def test_each_phase_needs_the_replicas_that_carry_its_peak_at_the_engines_knee() -> None:
    needs = {n.phase: n for n in phase_needs(DemoConfig())}
    # warm-up 5 VUs; burst 50 VUs and the room's peak; steady 30 VUs; cooldown 5; survey none
    assert {k: n.replicas for k, n in needs.items()} == {
        "warm-up": 1,
        "burst": 4,
        "steady": 2,
        "cooldown": 1,
        "survey": 0,
    }
    knee = DemoConfig().scaling.forecast.concurrency
    for need in needs.values():
        if need.replicas:
            assert need.in_flight <= knee * need.replicas
    # one replica fewer would carry more than the knee each
    burst = needs["burst"]
    assert burst.in_flight / (burst.replicas - 1) > knee


def test_a_busier_engine_or_a_bigger_room_needs_more() -> None:
    base = {n.phase: n.replicas for n in phase_needs(DemoConfig())}
    crowd = config_from_dict({"twin": {"audience": {"size": 400}}})
    assert {n.phase: n.replicas for n in phase_needs(crowd)}["burst"] > base["burst"]
    lower = config_from_dict({"scaling": {"forecast": {"concurrency": 8}}})
    assert {n.phase: n.replicas for n in phase_needs(lower)}["steady"] > base["steady"]
    # an answer takes longer on a busier replica (the engine's decode step grows)
    assert answer_seconds(DemoConfig(), 32) > answer_seconds(DemoConfig(), 1)


def test_rate_phases_count_by_littles_law_and_survey_phases_ask_for_nothing() -> None:
    cfg = config_from_dict(
        {
            "timeline": {
                "phases": [
                    {"name": "open", "at": 0, "duration": 60, "rate": 5},
                    {"name": "vote", "at": 60, "duration": 60, "vus": 40, "mode": "survey"},
                ]
            },
            "twin": {"audience": {"size": 0}},
        }
    )
    open_, vote = phase_needs(cfg)
    assert 5 * answer_seconds(cfg, 1) < open_.in_flight < 5 * answer_seconds(cfg, 16)
    assert (vote.replicas, vote.in_flight) == (0, 0)


def test_the_forecast_rises_a_start_up_ahead_and_falls_when_its_phase_ends() -> None:
    cfg = proactive()
    lead = forecast_lead(cfg)
    assert lead == new_node_seconds(cfg) + cfg.twin.hpa.sync_period
    # the burst (2 min) is less than a lead away: its 4 replicas are asked for at once
    assert forecast_schedule(cfg) == [
        ForecastStep(0.0, 4, "burst"),
        ForecastStep(240.0, 2, "steady"),
        ForecastStep(600.0, 1, "cooldown"),
        ForecastStep(720.0, 0, None),
    ]
    later = proactive(scaling={"forecast": {"lead": "60s"}})
    schedule = forecast_schedule(later)
    assert forecast_at(schedule, 59) == 1  # the warm-up's own need
    assert forecast_at(schedule, 60) == 4  # a minute before the burst
    assert forecast_at(schedule, 700) == 1 and forecast_at(schedule, 2000) == 0
    assert forecast_at(schedule, -1) == 0


def test_the_twin_evaluates_the_rendered_formula_with_the_forecast_blended_in() -> None:
    cfg = proactive()
    (scaled,) = [o for o in render(cfg) if o["kind"] == "ScaledObject"]
    formula = scaled["spec"]["advanced"]["scalingModifiers"]["formula"]
    assert formula == "max(collectors > 0 ? queue + running : 16, forecast * 8)"
    trigger = next(t for t in scaled["spec"]["triggers"] if t["name"] == "forecast")
    assert trigger["type"] == "metrics-api"
    assert trigger["metadata"]["url"] == "http://gateway.tubedemo.svc/forecast"
    assert trigger["metadata"]["valueLocation"] == "tubedemo_forecast_replicas"
    world = World(cfg)
    names = {t["name"] for t in scaled["spec"]["triggers"]}
    assert world.formula == keda_formula.check(formula, names)
    # the queue alone: the same formula without the forecast
    off = config_from_dict({"scaling": {"proactive": "off"}})
    (reactive,) = [o for o in render(off) if o["kind"] == "ScaledObject"]
    assert "forecast" not in {t["name"] for t in reactive["spec"]["triggers"]}
    assert reactive["spec"]["advanced"]["scalingModifiers"]["formula"] == (
        "collectors > 0 ? queue + running : 16"
    )


def test_proactive_scaling_asks_before_the_queue_does_and_the_hpa_still_decides() -> None:
    cfg = proactive(twin={"audience": {"size": 0}})
    world = World(cfg)
    world.run_until(16.0)  # the first HPA sync: no queue yet, the burst's forecast asks
    assert world.desired == forecast_at(world.forecast, 15.0) == 3  # 50 VUs, no room
    assert world.hpa_reactive is not None and world.hpa_reactive < 8
    off = World(
        config_from_dict({"twin": {"audience": {"size": 0}}, "scaling": {"proactive": "off"}})
    )
    off.run_until(16.0)
    assert off.desired == 1


def test_the_default_talk_serves_the_room_inside_the_burst_at_about_todays_cost() -> None:
    # issue 24: Ready > 1 inside the burst and the room's TTFT p95 there <= 3 s, at a GPU
    # cost within +30 % of the reactive talk's $0.89 (seed 42)
    ahead = simulate(proactive())
    reactive = simulate(config_from_dict({"scaling": {"proactive": "off"}}))
    burst = next(p for p in ahead.phases if p.phase == "burst")
    assert burst.ready_max > 1
    assert burst.audience_ttft_p95 is not None and burst.audience_ttft_p95 <= 3.0
    assert ahead.cost <= 1.3 * reactive.cost
    was = next(p for p in reactive.phases if p.phase == "burst")
    assert was.ready_max == 1 and was.audience_ttft_p95 is not None
    assert was.audience_ttft_p95 > 10


def test_the_readmes_proactive_sweep_table_is_what_simulate_gives() -> None:
    # README, "Proactive scaling: the timeline is the forecast": the table a presenter reads
    # to choose; the default talk, seed 42, the room on
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    rows = {
        cells[0]: cells[1:]
        for line in readme.split("**Proactive scaling", 1)[1].split("\n\n**", 1)[0].splitlines()
        if line.startswith("| ") and (cells := [c.strip() for c in line.strip("|").split("|")])
    }
    for column, cfg in enumerate(
        (config_from_dict({"scaling": {"proactive": "off"}}), proactive())
    ):
        result = simulate(cfg)
        burst = next(p for p in result.phases if p.phase == "burst")
        steady = next(p for p in result.phases if p.phase == "steady")
        assert rows["burst: desired / Ready max"][column].startswith(
            f"{burst.desired_max} / {burst.ready_max} "
        )
        p50, p95 = burst.audience_ttft_p50, burst.audience_ttft_p95
        assert p50 is not None and p95 is not None
        assert rows["burst: room TTFT p50 / p95"][column] == f"{_s(p50)} / {_s(p95)}"
        assert steady.audience_ttft_p95 is not None
        assert rows["steady: room TTFT p95"][column].startswith(_s(steady.audience_ttft_p95))
        assert rows["requests (failed)"][column] == f"{result.requests} ({result.failed})"
        assert rows["GPU cost of the talk"][column].startswith(f"${result.cost:.2f}")


def _s(seconds: float) -> str:
    """As the README writes a TTFT: two decimals under 10 s, whole seconds above."""
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.0f} s"
