"""The twin's start-up of a new replica: one named step per stage, each traceable to what the
render sets up (a vLLM flag, an EC2NodeClass field, a probe) and to the source of its figure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli import tubedemo
from tubedemo.core.config import DemoConfig, config_from_dict
from tubedemo.twin.startup import (
    model_load_seconds,
    new_node_seconds,
    pod_steps,
    startup_steps,
)

STEPS = ["batch", "node", "image", "container", "engine", "weights", "compile", "graphs", "probe"]


def _step(cfg: DemoConfig, name: str, kind: str | None = None) -> Any:
    return next(s for s in startup_steps(cfg, kind) if s.name == name)


def test_a_new_replica_starts_in_named_steps_each_with_its_source() -> None:
    steps = startup_steps(DemoConfig())
    assert [s.name for s in steps] == STEPS
    assert all(s.source for s in steps), [s.name for s in steps if not s.source]
    # the world charges the pod's steps once a node is Ready: container to probe
    assert [s.name for s in pod_steps(DemoConfig())] == STEPS[3:]
    assert model_load_seconds(DemoConfig()) == sum(s.seconds for s in pod_steps(DemoConfig()))


def test_every_step_the_render_shapes_names_the_flag_or_field() -> None:
    cfg = DemoConfig()
    follows = {s.name: s.follows for s in startup_steps(cfg)}
    assert follows["image"] == "EC2NodeClass volumeInitializationRate: 300"
    assert follows["weights"] == (
        f"--load-format=runai_streamer, concurrency {cfg.streamer_concurrency}"
    )
    assert follows["graphs"] == "--cudagraph-capture-sizes 1 2 4 8 16 24 32"
    assert follows["probe"] == "startupProbe.periodSeconds: 2"
    # no step without what it follows: the container's driver init, the engine's release
    assert all(follows.values()), [name for name, text in follows.items() if not text]
    assert follows["container"].startswith(f"gpu_pool.ami_alias {cfg.gpu_pool.ami_alias}")
    assert follows["engine"].startswith(f"model.image {cfg.model.image}")


def test_the_snapshot_volume_initialized_during_the_boot_costs_nothing_lazily_read_it_does() -> (
    None
):
    assert _step(DemoConfig(), "image").seconds == 0
    lazy = config_from_dict({"gpu_pool": {"volume_initialization_rate": None}})
    image = _step(lazy, "image")
    # 10 GiB at the assumed 100 MiB/s, less the 40 s boot it overlaps
    assert round(image.seconds) == round(10 * 1024 / 100 - 40)
    assert "assumed" in image.source
    slow = config_from_dict({"gpu_pool": {"volume_initialization_rate": 100}})
    assert round(_step(slow, "image").seconds) == round(10 * 1024 / 100 - 40)


def test_weights_stream_as_fast_as_the_node_network_or_the_streams_allow() -> None:
    cfg = DemoConfig()
    small, large = _step(cfg, "weights", "g5.2xlarge"), _step(cfg, "weights", "g5.4xlarge")
    # 16.1 GB over 10 Gbit/s, then over 25 Gbit/s (same GPU, twice the vCPUs)
    assert round(small.seconds, 1) == 12.9
    assert round(large.seconds, 1) == 5.2
    few = config_from_dict({"model": {"streamer_concurrency": 8}})
    # the streamer's default of 8 streams x 103 MB/s cannot fill even 10 Gbit/s
    assert round(_step(few, "weights", "g5.2xlarge").seconds, 1) == round(16095 / 824, 1)
    hub = config_from_dict({"model": {"weights_uri": ""}})
    assert _step(hub, "weights").follows == "no model.weights_uri"


def test_eager_mode_skips_compile_and_graphs_and_fewer_sizes_capture_faster() -> None:
    eager = config_from_dict({"model": {"extra_args": ["--enforce-eager"]}})
    assert (_step(eager, "compile").seconds, _step(eager, "graphs").seconds) == (0, 0)
    assert _step(eager, "graphs").follows == "--enforce-eager"
    wide = config_from_dict({"model": {"cudagraph_capture_sizes": [1, 2, 4, 8, 16, 32, 64, 128]}})
    assert _step(wide, "graphs").seconds > _step(DemoConfig(), "graphs").seconds


def test_measured_figures_override_the_step_model() -> None:
    cfg = config_from_dict({"twin": {"startup": {"model_load": 55, "image_pull": 5}}})
    names = [s.name for s in startup_steps(cfg)]
    assert names == ["batch", "node", "image", "ready"]
    assert new_node_seconds(cfg) == 1 + 40 + 5 + 55


def test_simulate_prints_the_breakdown_per_instance_type_with_sources(tmp_path: Path) -> None:
    (tmp_path / "demo.yaml").write_text(
        "timeline:\n  phases: [{name: a, at: 0, duration: 60, vus: 1}]\n"
        "talk:\n  duration: 2m\ntwin:\n  tail: 30s\n"
    )
    env = {"COLUMNS": "250", "PATH": "/usr/bin:/bin"}
    done = tubedemo("simulate", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "start-up of a new replica on a new node" in out
    for name in STEPS:
        assert f"│ {name} " in out, name
    assert "g5.2xlarge (twin)" in out and "g5.4xlarge" in out
    assert "--cudagraph-capture-sizes 1 2 4 8 16 24 32" in out
    as_json = tubedemo("simulate", "--json", cwd=tmp_path, env=env)
    assert as_json.returncode == 0, as_json.stderr
    document = json.loads(as_json.stdout)
    steps = document["startup_steps"]
    assert [s["name"] for s in steps["steps"]] == STEPS
    assert steps["new_node_s"]["g5.2xlarge"] == round(new_node_seconds(DemoConfig()), 2)
    assert steps["new_node_s"]["g5.4xlarge"] < steps["new_node_s"]["g5.2xlarge"]


def _vllm_pod(cfg: DemoConfig) -> dict[str, Any]:
    from tubedemo.manifests.render import render

    deployment = next(
        o for o in render(cfg) if o["kind"] == "Deployment" and o["metadata"]["name"] == "vllm"
    )
    pod: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return pod


def test_the_compile_step_loads_the_cache_exactly_when_the_render_keeps_one() -> None:
    cached = config_from_dict({"profile": "eks", "model": {"compile_cache": True}})
    cold = config_from_dict({"profile": "eks"})
    hub = config_from_dict({"profile": "eks", "model": {"compile_cache": True, "weights_uri": ""}})
    for cfg, keeps in ((cached, True), (cold, False), (hub, False)):
        pod = _vllm_pod(cfg)
        env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
        pulls = [c["name"] for c in pod.get("initContainers", [])] == ["compile-cache-pull"]
        assert (env.get("VLLM_CACHE_ROOT") == "/models/vllm-cache", pulls) == (keeps, keeps)
        compile_step = _step(cfg, "compile")
        expected = cfg.twin.startup.compile_cached if keeps else cfg.twin.startup.compile_cold
        assert compile_step.seconds == expected
        assert compile_step.follows.startswith("model.compile_cache") is keeps
    # the helpers' image is not on the snapshot: a new node pulls it before vLLM starts
    helper = _step(cached, "image")
    assert round(helper.seconds) == round(314 / (10 * 1024 / 270))
    assert "gateway image" in helper.source and _step(cold, "image").seconds == 0
    # 145 s -> 119 s on a new g5.2xlarge: 34 s less compile, 8 s more image
    assert round(new_node_seconds(cold)) == 145 and round(new_node_seconds(cached)) == 119
