"""tubedemo simulate as the presenter runs it: a real process, its table, its recording."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests import cli
from tubedemo.core.config import DemoConfig, config_from_dict
from tubedemo.telemetry.snapshot import Snapshot
from tubedemo.twin.simulate import direction_changes, simulate, snapshots
from tubedemo.twin.startup import image_pull_seconds, model_load_seconds

# The EKS path as the README prepares it (image on a snapshot, weights streamed from S3): the
# twin's start-up follows the render, and these tests are about scaling, not a cold hub pull.
PREPARED: dict[str, Any] = {
    "gpu_pool": {"image_snapshot_id": "snap-0123456789abcdef0"},
    "model": {"weights_uri": "s3://weights/llama-3.1-8b-instruct/"},
}
# the queue's loop alone, whose reaction time these tests measure (the forecast asks earlier)
REACTIVE: dict[str, Any] = {**PREPARED, "scaling": {"proactive": "off"}}


def tubedemo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return cli.tubedemo(*args, cwd=cwd, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})


def test_default_talk_scales_beyond_one_replica_and_reports_the_reaction_time() -> None:
    # the prepared path with a 60 s pull (a snapshot not yet hydrated): the figures this bound
    # was written for
    config = config_from_dict({**REACTIVE, "twin": {"startup": {"image_pull": 60}}})
    result = simulate(config)
    assert result.max_replicas > 1
    assert result.peak_queue > 0
    assert result.reaction is not None
    startup = config.twin.startup
    # No replica is Ready sooner after the HPA first asks for more than a node, the image and
    # the model allow (the in-flight formula may ask before any request waits, so the bound
    # counts from the first scale-up the frames show, at most one tick after the decision).
    first_asked = next(f.time for f in result.frames if f.view.desired > 1)
    assert result.first_new_ready_at is not None
    assert result.first_new_ready_at - first_asked >= (
        startup.node_launch
        + image_pull_seconds(config)
        + model_load_seconds(config)
        - config.dashboard.tick
    )
    audience = next(p for p in result.phases if p.phase == "burst")
    warm = next(p for p in result.phases if p.phase == "warm-up")
    assert audience.ttft_p95 is not None and warm.ttft_p95 is not None
    assert audience.ttft_p95 > warm.ttft_p95
    assert result.cost > 0


def test_same_seed_gives_the_same_summary() -> None:
    first, second = simulate(DemoConfig()), simulate(DemoConfig())
    assert first.phases == second.phases
    assert (first.peak_queue, first.cost, first.requests) == (
        second.peak_queue,
        second.cost,
        second.requests,
    )


def test_faster_cold_start_shortens_the_reaction() -> None:
    slow = simulate(config_from_dict({**REACTIVE, "twin": {"startup": {"image_pull": 60}}}))
    fast = simulate(config_from_dict(REACTIVE))  # the image on a snapshot: 0 s
    assert fast.reaction is not None and slow.reaction is not None
    assert fast.reaction < slow.reaction


def test_recording_is_one_snapshot_per_tick_the_dashboard_can_read() -> None:
    config = config_from_dict(
        {"talk": {"duration": "10m"}, "twin": {"tail": "1m"}, **_short(), **PREPARED}
    )
    result = simulate(config)
    lines = [s.to_json() for s in snapshots(config, result)]
    assert len(lines) == 660
    parsed = [Snapshot.from_json(line) for line in lines]
    assert [s.talk.elapsed_s for s in parsed] == sorted(s.talk.elapsed_s for s in parsed)
    assert max(s.replicas.ready for s in parsed) > 1
    assert max(s.queue.waiting for s in parsed) == result.peak_queue
    assert any(e.kind == "scale" for s in parsed for e in s.events)
    assert parsed[-1].cost.total == result.frames[-1].cost


def _short() -> dict[str, object]:
    # Eight slots per replica and a quick start-up, so this short load builds a queue and new
    # replicas are Ready while it lasts.
    return {
        "model": {"max_num_seqs": 8},
        "timeline": {
            "phases": [
                {"name": "warm-up", "at": 0, "duration": 60, "vus": 2},
                {"name": "audience joins", "at": 60, "duration": 120, "vus": [2, 8]},
            ]
        },
        "twin": {
            "tail": "1m",
            "audience": {"join_at": "60s", "join_over": "60s"},
            "startup": {"image_pull": "0s", "model_load": "30s"},
        },
    }


def test_simulate_prints_the_summary_table(tmp_path: Path) -> None:
    done = tubedemo("simulate", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for row in ("peak queue", "max replicas ready", "max GPU nodes", "queue -> new", "GPU cost"):
        assert row in done.stdout
    assert "burst: TTFT p50/p95" in done.stdout
    assert "steady: direction changes" in done.stdout


def test_sweep_compares_variants_side_by_side_and_records_each(tmp_path: Path) -> None:
    done = tubedemo(
        "simulate",
        "--sweep",
        "scaling.multiplier=10,50",
        "--set",
        "talk.duration=10m",
        "--set",
        "timeline.phases=[{name: burst, at: 0, duration: 300, vus: 8}]",
        "--record",
        "out/sim.jsonl",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "multiplier=10" in done.stdout and "multiplier=50" in done.stdout
    assert (tmp_path / "out/sim-multiplier-10.jsonl").stat().st_size > 0
    assert (tmp_path / "out/sim-multiplier-50.jsonl").stat().st_size > 0


def test_malformed_sweep_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = tubedemo("simulate", "--sweep", "scaling.multiplier", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "section.field=value1,value2" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_override_names_the_field(tmp_path: Path) -> None:
    done = tubedemo("simulate", "--set", "scaling.multiplyer=10", cwd=tmp_path)
    assert done.returncode == 2
    assert "multiplyer" in done.stderr and "Traceback" not in done.stderr


def test_formula_the_twin_cannot_evaluate_is_one_line(tmp_path: Path) -> None:
    done = tubedemo("simulate", "--set", "scaling.formula=max(waiting, 1)", cwd=tmp_path)
    assert done.returncode != 0
    assert "waiting" in done.stderr and "Traceback" not in done.stderr


def test_output_dir_gets_the_reports_charts_from_the_simulated_recording(tmp_path: Path) -> None:
    done = tubedemo(
        "simulate",
        "--set",
        "talk.duration=5m",
        "--set",
        "twin.tail=1m",
        "--set",
        "timeline.phases=[{name: burst, at: 0, duration: 240, vus: 12}]",
        "-o",
        "charts",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    charts = tmp_path / "charts"
    assert (charts / "simulate.jsonl").stat().st_size > 0
    assert (charts / "report.html").stat().st_size > 0
    assert (charts / "replicas.png").stat().st_size > 0


def test_rerun_replaces_the_recording_instead_of_appending(tmp_path: Path) -> None:
    args = ("simulate", "--set", "talk.duration=2m", "--set", "twin.tail=0s")
    phases = "timeline.phases=[{name: w, at: 0, duration: 60, vus: 1}]"
    for _ in range(2):
        done = tubedemo(*args, "--set", phases, "--record", "sim.jsonl", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    assert len((tmp_path / "sim.jsonl").read_text().splitlines()) == 120


def test_rehearse_refuses_a_bad_speed_in_one_line(tmp_path: Path) -> None:
    for args in (("--speed", "0"), ("--speed", "-3")):
        done = tubedemo("rehearse", *args, cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr


def test_rehearsal_status_for_the_phones_comes_from_the_snapshot() -> None:
    from tubedemo.rehearsal.rehearse import status_body

    config = DemoConfig()
    snap = next(s for s in snapshots(config, simulate(config)) if s.queue.waiting > 5)
    body = status_body(snap)
    assert body["queue"] == snap.queue.waiting
    assert body["virtual_commuters"] == snap.queue.waiting * config.scaling.multiplier
    assert body["replicas"] == {
        "ready": snap.replicas.ready,
        "desired": snap.replicas.desired,
        "max": config.scaling.max_replicas,
    }
    assert body["gpu_nodes"] == sum(1 for n in snap.nodes.nodes if n.ready)


def test_sweep_labels_keep_values_with_dots(tmp_path: Path) -> None:
    done = tubedemo(
        "simulate",
        "--set",
        "talk.duration=5m",
        "--set",
        "timeline.phases=[{name: burst, at: 0, duration: 120, vus: 8}]",
        "--sweep",
        "gpu_pool.instance_types=[g5.2xlarge],[g5.12xlarge]",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "instance_types=[g5.2xlarge]" in done.stdout
    assert "instance_types=[g5.12xlarge]" in done.stdout


# -- the talk's shape (issue #15 "Done when"), read from `simulate --json` ------------------------


def _document(tmp_path: Path, *sets: str) -> dict[str, Any]:
    # The DEFAULT demo.yaml as `tubedemo init` writes it: snapshot and weights are `auto`, the
    # prepared path (`up` refuses to go on stage without what `tubedemo prepare` made).
    if not (tmp_path / "demo.yaml").exists():
        init = tubedemo("init", cwd=tmp_path)
        assert init.returncode == 0, init.stderr
    args = [a for s in sets for a in ("--set", s)]
    done = tubedemo("simulate", "--json", *args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def _phases(tmp_path: Path, *sets: str) -> dict[str, dict[str, Any]]:
    phases: dict[str, dict[str, Any]] = _document(tmp_path, *sets)["phases"]
    return phases


def test_simulate_json_states_the_prepared_start_up_it_assumes_for_the_default_config(
    tmp_path: Path,
) -> None:
    document = _document(tmp_path, "twin.audience.size=0")
    assert next(iter(document)) == "startup"
    assert document["startup"].startswith("start-up: node + 0 s image (image on the snapshot")
    assert (
        "104 s to ready (weights streamed from the S3 copy `tubedemo prepare`"
        in (document["startup"])
    )


def test_default_talk_without_the_room_has_the_original_talks_shape(tmp_path: Path) -> None:
    # the seed's shape is the reactive talk's: the queue alone scales (issue 24 keeps it)
    phases = _phases(tmp_path, "twin.audience.size=0", "scaling.proactive=off")
    assert list(phases) == ["warm-up", "burst", "steady", "cooldown", "survey"]
    warm, burst, steady, cool = (phases[n] for n in ("warm-up", "burst", "steady", "cooldown"))
    # Warm-up: one replica, no new node.
    assert warm["desired"]["max"] == 1 and warm["ready"]["max"] == 1
    assert warm["new_nodes"] == 0
    # Burst: at least two replicas asked for, on at most two new nodes.
    assert burst["desired"]["max"] >= 2
    assert burst["new_nodes"] <= 2
    # Steady: 3-4 Ready at its end, turning round at most once.
    assert 3 <= steady["ready"]["end"] <= 4
    assert steady["direction_changes"] <= 1
    # Cooldown: back to one replica by the end of the cool-down window.
    assert cool["desired"]["end"] == 1 and cool["ready"]["end"] == 1


def test_default_talk_with_the_room_keeps_the_rooms_p95_ttft_under_37s(tmp_path: Path) -> None:
    phases = _phases(tmp_path)
    asked = {n: p for n, p in phases.items() if p["audience_ttft_p95_s"] is not None}
    assert "burst" in asked
    for name, phase in asked.items():
        assert phase["audience_ttft_p95_s"] < 37.0, name


def test_json_has_one_object_per_phase_with_the_shape_figures(tmp_path: Path) -> None:
    phase = _phases(tmp_path, "twin.audience.size=0")["burst"]
    for key in (
        "desired",
        "ready",
        "new_nodes",
        "new_node_types",
        "direction_changes",
        "requests",
        "failed",
        "ttft_p50_s",
        "ttft_p95_s",
        "cost",
    ):
        assert key in phase, key
    assert len(phase["new_node_types"]) == phase["new_nodes"]


def test_flapping_desired_replicas_print_a_warning_line(tmp_path: Path) -> None:
    # A queue-only formula (one replica per waiting request, 8 slots) with no scale-down window
    # flaps in the steady phase: the queue drains, the proposal falls to 1, the queue refills.
    flapping = (
        "scaling.extra_triggers={}",
        "scaling.formula=max(queue * 50, 1)",
        "scaling.target=50",
        "model.max_num_seqs=8",
        "scaling.scale_down={stabilization: 0s, "
        "policies: [{type: Percent, value: 100, period: 15s}]}",
        "twin.audience.size=0",
    )
    args = [a for s in flapping for a in ("--set", s)]
    done = tubedemo("simulate", *args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "warning: desired replicas changed direction" in done.stdout
    assert "'steady'" in done.stdout
    quiet = tubedemo("simulate", "--set", "twin.audience.size=0", cwd=tmp_path)
    assert "warning" not in quiet.stdout


def test_direction_changes_count_turns_not_steps() -> None:
    assert direction_changes([1, 2, 2, 3, 2]) == 1
    assert direction_changes([4, 4, 4]) == 0
    assert direction_changes([1, 5, 2, 6, 3]) == 3
    assert direction_changes([6, 4, 4, 1]) == 0


def test_the_twin_start_up_follows_the_render_and_simulate_says_which_case_in_one_line(
    tmp_path: Path,
) -> None:
    cold = config_from_dict({"gpu_pool": {"image_snapshot_id": ""}, "model": {"weights_uri": ""}})
    # the image pulled per node, the weights downloaded from the hub and read from disk
    assert (round(image_pull_seconds(cold)), round(model_load_seconds(cold))) == (270, 284)
    # auto (the default on eks) is the prepared path: `up` refuses to deploy without it
    assert (image_pull_seconds(DemoConfig()), round(model_load_seconds(DemoConfig()))) == (0, 104)
    # local: the CPU stand-in on the cluster's own node, no weights (its probes' cadence)
    local = DemoConfig.model_validate({"profile": "local"})
    assert (image_pull_seconds(local), model_load_seconds(local)) == (0.0, 13.0)
    prepared = config_from_dict(PREPARED)
    assert (image_pull_seconds(prepared), round(model_load_seconds(prepared))) == (0, 104)
    pinned = config_from_dict({**PREPARED, "twin": {"startup": {"image_pull": 42}}})
    assert image_pull_seconds(pinned) == 42.0  # an explicit figure wins
    (tmp_path / "demo.yaml").write_text(
        "gpu_pool:\n  image_snapshot_id: snap-0123456789abcdef0\n"
        "model:\n  weights_uri: ''\n"
        "timeline:\n  phases: [{name: a, at: 0, duration: 60, vus: 1}]\n"
        "talk:\n  duration: 2m\ntwin:\n  tail: 30s\n"
    )
    result = tubedemo("simulate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("start-up:")]
    assert lines == [
        "start-up: node + 0 s image (image on snapshot snap-0123456789abcdef0) + 284 s to ready "
        "(weights downloaded from the hub per pod (no model.weights_uri))"
    ]


def test_init_local_then_simulate_has_replicas_ready_within_the_burst_on_the_clusters_node(
    tmp_path: Path,
) -> None:
    # `tubedemo init --profile local && tubedemo simulate`, as the README's local path: the
    # stand-in starts in seconds on the kind/k3d node, so the burst gets its replicas in time;
    # no Karpenter, so no node is launched and the GPU bill is $0.
    init = tubedemo("init", "--profile", "local", cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    table = tubedemo("simulate", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert table.stdout.startswith("start-up (local profile, no Karpenter): the cluster's node")
    document = _document(tmp_path)
    burst = document["phases"]["burst"]
    assert burst["ready"]["max"] >= 2
    assert burst["ready"]["max"] == burst["desired"]["max"]
    assert [p["new_nodes"] for p in document["phases"].values()] == [0] * 5
    assert document["cost"] == 0
