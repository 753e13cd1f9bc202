"""The stage dashboard: a pure function of snapshot history, compared as golden text."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console

from tests.talk_samples import START, talk_history
from tubedemo.core.config import DashboardConfig
from tubedemo.screen.dashboard import (
    DashboardOptions,
    StartupMemo,
    big_text,
    chart,
    render,
    render_text,
    tube_line,
)
from tubedemo.telemetry.events import derive_events
from tubedemo.telemetry.snapshot import (
    GpuNode,
    Interruption,
    NodeState,
    PodState,
    QueueState,
    ReplicaState,
    Snapshot,
)

GOLDEN = Path(__file__).parent.parent / "golden"
HISTORY = talk_history()
SCALING = HISTORY[:80]  # 02:38: queue at its peak, four pods loading the model
SIZES = [(80, 24), (160, 48)]


def _check_golden(name: str, text: str, update: bool) -> None:
    path = GOLDEN / name
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"{path} missing: run `nox -s golden` and review the diff"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs; review, then nox -s golden"


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_scaling_moment_matches_golden(width: int, height: int, update_golden: bool) -> None:
    _check_golden(
        f"dashboard_scaling_{width}x{height}.txt",
        render_text(SCALING, width, height),
        update_golden,
    )


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_survey_moment_matches_golden(width: int, height: int, update_golden: bool) -> None:
    _check_golden(
        f"dashboard_survey_{width}x{height}.txt", render_text(HISTORY, width, height), update_golden
    )


def test_plain_flavour_matches_golden(update_golden: bool) -> None:
    options = DashboardOptions(tube_flavour=False)
    _check_golden("dashboard_plain_80x24.txt", render_text(SCALING, 80, 24, options), update_golden)


@pytest.mark.parametrize(("width", "height"), [*SIZES, (100, 30), (200, 60), (60, 16)])
def test_every_frame_is_exactly_the_terminal_size(width: int, height: int) -> None:
    lines = render_text(SCALING, width, height).splitlines()
    assert len(lines) == height
    assert {len(line) for line in lines} == {width}


def test_frame_is_a_pure_function_of_its_inputs() -> None:
    assert render_text(SCALING, 80, 24) == render_text(list(SCALING), 80, 24)


def test_a_callers_startup_memo_draws_the_frames_it_would_draw_without_one() -> None:
    memo = StartupMemo()  # kept frame after frame over a sliding history, as the live board does
    for end in range(20, len(HISTORY) + 1, 20):
        window = HISTORY[max(0, end - 60) : end]
        console = Console(
            width=160,
            height=48,
            record=True,
            color_system=None,
            force_terminal=True,
            legacy_windows=False,
            file=io.StringIO(),
        )
        console.print(render(window, 160, 48, DashboardOptions(), memo))
        assert console.export_text(styles=False) == render_text(window, 160, 48)


def test_big_figures_show_queue_and_virtual_commuters() -> None:
    text = render_text(SCALING, 80, 24)
    now = SCALING[-1]
    assert now.queue.waiting == 18 and now.virtual_commuters == 900
    for row in big_text("900"):
        assert row in text
    for row in big_text("18"):
        assert row in text


def test_scaling_event_reads_mind_the_gap_with_flavour_and_plain_without() -> None:
    assert "Mind the gap! Scaling 1 → 5" in render_text(HISTORY[:50], 80, 24)
    plain = render_text(HISTORY[:50], 80, 24, DashboardOptions(tube_flavour=False))
    assert "Scaling 1 → 5" in plain and "Mind the gap" not in plain


def test_replica_count_is_named_after_a_tube_line_only_with_flavour() -> None:
    ready = SCALING[-1].replicas.ready
    name, _ = tube_line(ready)
    assert f"{name} line" in render_text(SCALING, 80, 24)
    assert f"{name} line" not in render_text(SCALING, 80, 24, DashboardOptions(tube_flavour=False))


def test_startup_min_max_covers_every_pod_seen_in_history() -> None:
    text = render_text(HISTORY, 160, 48)
    assert "startup 95–182s" in text


def test_stale_source_is_marked_and_still_shows_last_values() -> None:
    last = SCALING[-1]
    stale = last.model_copy(
        update={
            "replicas": last.replicas.model_copy(update={"stale": True, "age_s": 12.0}),
            "nodes": last.nodes.model_copy(update={"stale": True, "age_s": None}),
        }
    )
    text = render_text([*SCALING[:-1], stale], 80, 24)
    assert "REPLICAS · stale 12s" in text
    assert "GPU NODES · no data" in text
    assert "5 desired" in text
    assert "Signal failure" in text


def test_empty_history_shows_a_waiting_screen_of_the_right_size() -> None:
    lines = render_text([], 80, 24).splitlines()
    assert len(lines) == 24 and any("waiting for the first snapshot" in x for x in lines)


def test_hundreds_of_pods_and_nodes_are_summarised_not_overflowing() -> None:
    pods = tuple(PodState(name=f"vllm-{i}", ready=i % 2 == 0, node="n") for i in range(500))
    nodes = tuple(GpuNode(name=f"n{i}", ready=True) for i in range(100))
    snap = Snapshot(
        time=START,
        replicas=ReplicaState(desired=500, ready=250, pending=250, pods=pods),
        nodes=NodeState(nodes=nodes),
        queue=QueueState(waiting=12345, multiplier=50),
    )
    for width, height in SIZES:
        text = render_text([snap], width, height)
        assert len(text.splitlines()) == height
        assert "more" in text


def test_high_contrast_uses_no_dim_or_grey_styles() -> None:
    console = Console(
        width=80, height=24, record=True, force_terminal=True, color_system="truecolor"
    )
    console.print(render(SCALING, 80, 24, DashboardOptions(high_contrast=True)))
    styles = {str(seg.style) for seg in console._record_buffer if seg.style}
    assert not any("grey" in s or "dim" in s for s in styles)
    console = Console(
        width=80, height=24, record=True, force_terminal=True, color_system="truecolor"
    )
    console.print(render(SCALING, 80, 24))
    assert any("grey" in str(seg.style) for seg in console._record_buffer if seg.style)


def test_options_follow_the_config_section() -> None:
    options = DashboardOptions.from_config(
        DashboardConfig(tube_flavour=False, high_contrast=True, history=120)
    )
    assert (options.tube_flavour, options.high_contrast, options.history_s) == (False, True, 120)


def test_chart_scales_columns_to_the_top_value_and_leaves_gaps_blank() -> None:
    assert chart([0.0, 5.0, 10.0, None], rows=2, top=10.0) == ["  █ ", " ██ "]


def test_load_graph_covers_only_the_history_window() -> None:
    late = [s for s in HISTORY if s.time >= START + timedelta(seconds=200)]
    short = DashboardOptions(history_s=60)
    assert "last 1m" in render_text(late, 80, 24, short)


def test_an_hpa_that_cannot_scale_is_called_out() -> None:
    last = SCALING[-1]
    broken = last.model_copy(
        update={"hpa": last.hpa.model_copy(update={"problem": "FailedGetExternalMetric"})}
    )
    for width, height in SIZES:
        text = render_text([*SCALING[:-1], broken], width, height)
        assert "HPA ⚠ FailedGetExternalMetric" in text
        assert "Signal failure at the autoscaler: FailedGetExternalMetric" in text


def _drill(notice: Interruption) -> Snapshot:
    return Snapshot(
        time=START,
        replicas=ReplicaState(
            desired=1, pending=1, pods=(PodState(name="vllm-9", created_s_ago=notice.notice_s_ago),)
        ),
        nodes=NodeState(
            nodes=(
                GpuNode(
                    name="gpu-a",
                    instance_type="g5.2xlarge",
                    capacity_type="spot",
                    ready=True,
                    age_s=900,
                    price_per_hour=0.55,
                    disruption="interrupted",
                ),
            )
        ),
        interruptions=(notice,),
    )


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_a_spot_notice_counts_down_on_its_node_and_says_when_a_replica_serves_again(
    width: int, height: int
) -> None:
    notice = Interruption(
        node="gpu-a", instance_type="g5.2xlarge", notice_s_ago=37, pods=1, evicted_s=0.0
    )
    text = render_text([_drill(notice)], width, height)
    assert "⏱1:23" in text
    assert "spot 0:37/2:00" in text and "back –" in text
    served = notice.model_copy(
        update={"notice_s_ago": 160, "drained_s": 10.0, "replaced_s": 145.0, "gone_s": 120.0}
    )
    text = render_text([_drill(served)], width, height)
    assert "spot 2:40/2:00" in text and "back 2:25" in text
    assert "⏱" not in text  # EC2 took the node: no countdown left
    if width >= 160:
        assert "drained 0:10" in text


def test_a_replica_serving_again_after_a_notice_is_an_event_that_says_if_it_was_in_time() -> None:
    before = _drill(Interruption(node="gpu-a", notice_s_ago=140, pods=1))
    after = _drill(Interruption(node="gpu-a", notice_s_ago=145, pods=1, replaced_s=145.0))
    (event,) = [e for e in derive_events(before, after) if "Replacement" in e.message]
    assert event.message == (
        "Replacement serving 145 s after the spot notice on gpu-a (after its 120 s)"
    )


def test_proactive_scaling_shows_the_queue_and_the_forecast_side_by_side() -> None:
    last = SCALING[-1]
    blended = last.model_copy(
        update={"hpa": last.hpa.model_copy(update={"desired": 4, "reactive": 1, "forecast": 4})}
    )
    # a big terminal says it in words too; 80x24 has room for the short form beside the HPA's
    assert "queue 1 · forecast 4" in render_text([*SCALING[:-1], blended], 160, 48)
    for width, height in SIZES:
        assert "HPA 4 q1·f4" in render_text([*SCALING[:-1], blended], width, height)
    # reactive only: no forecast, as before
    assert "forecast" not in render_text(SCALING, 160, 48)
