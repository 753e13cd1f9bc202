"""The rendered vLLM container args are parsed by the pinned vLLM release's own parser.

scripts/build-vllm-env installs the `vllm` wheel of the image tag we render into a cached
virtualenv; tools/vllm/serve_args.py runs there and parses the args exactly as `vllm serve`
does (FlexibleArgumentParser + make_arg_parser, the subcommand's validate, and the engine
arguments built from them). vLLM runs only in the eks profile (local renders the stand-in).
The metric names we read, and the names and buckets our simulated replicas emit, are checked
against the same release's metrics code.
"""

from __future__ import annotations

import ast
import functools
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import prepared
from tubedemo.aws import s3_layout
from tubedemo.core.config import DemoConfig, config_from_dict
from tubedemo.manifests import render as render_module
from tubedemo.manifests.render import render
from tubedemo.rehearsal import vllm_metrics
from tubedemo.telemetry import prometheus

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
SERVE_ARGS = REPO / "tools" / "vllm" / "serve_args.py"

# Both shapes of the eks profile a presenter renders: the defaults, and every model value moved
# plus extra args, so a value that renders differently (a float, a list) is parsed too.
EKS_CONFIGS: dict[str, dict[str, Any]] = {
    # the prepared talk (auto): the S3 copy through the Run:ai streamer
    "eks-defaults": {"profile": "eks"},
    # the cold path, chosen explicitly: the hub model id
    "eks-cold": {"profile": "eks", "model": {"weights_uri": "", "revision": "v1.0"}},
    "eks-tuned": {
        "profile": "eks",
        "model": {
            "name": "Qwen/Qwen3-0.6B",
            "served_name": "qwen3",
            "port": 8080,
            "max_model_len": 4096,
            "gpu_memory_utilization": 0.85,
            "max_num_seqs": 16,
            "shutdown_timeout": "45s",
            "prestop_sleep": "5s",
            "extra_args": ["--enable-prefix-caching", "--dtype=bfloat16"],
        },
    },
}


def _vllm_python() -> Path:
    out = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "build-vllm-env"), "--print-python"],
        capture_output=True,
        text=True,
        check=True,
    )
    path = Path(out.stdout.strip())
    if not path.is_file():
        prepared.unavailable("the pinned vLLM environment is not built", "vllm-env")
    return path


def _container(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    deployment = next(
        o for o in manifests if o["kind"] == "Deployment" and o["metadata"]["name"] == "vllm"
    )
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def _vllm_parse(container: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    assert container["command"] == ["vllm", "serve"], container["command"]
    return subprocess.run(
        [str(_vllm_python()), str(SERVE_ARGS), *container["args"]],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@functools.cache
def _parsed(name: str) -> dict[str, Any]:
    """EKS_CONFIGS[name] rendered and parsed by vLLM (once per session: vLLM imports slowly)."""
    result = _vllm_parse(_container(render(config_from_dict(EKS_CONFIGS[name]))))
    assert result.returncode == 0, (
        f"vLLM's parser refused the rendered args:\n{result.stderr[-3000:]}"
    )
    parsed: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return parsed


@pytest.mark.parametrize("name", sorted(EKS_CONFIGS))
def test_rendered_vllm_args_pass_the_pinned_vllm_parser_with_their_values(name: str) -> None:
    cfg = config_from_dict(EKS_CONFIGS[name])
    m = cfg.model
    parsed = _parsed(name)
    # the prepared copy in S3 (read by the Run:ai streamer), else the hub id
    location = s3_layout.weights_location(cfg)
    assert parsed["model"] == (location or m.name)
    if location:
        assert parsed["load_format"] == "runai_streamer"
    else:  # from the hub: the revision prepare would copy, so both paths load the same
        assert parsed["revision"] == (None if m.revision == "main" else m.revision)
    assert parsed["served_model_name"] == [m.served_name]
    assert parsed["port"] == m.port
    assert parsed["max_model_len"] == m.max_model_len
    assert parsed["gpu_memory_utilization"] == m.gpu_memory_utilization
    assert parsed["max_num_seqs"] == m.max_num_seqs
    assert parsed["shutdown_timeout"] == int(m.shutdown_timeout)
    # graphs only for the decode batches max_num_seqs allows (the twin's "graphs" step)
    assert parsed["cudagraph_capture_sizes"] == m.graph_sizes
    assert max(m.graph_sizes) == m.max_num_seqs
    if location:  # the streamer's threads and buffer, accepted by vLLM's own loader
        assert parsed["model_loader"] == "RunaiModelStreamerLoader"
        assert parsed["model_loader_extra_config"] == {
            "concurrency": cfg.streamer_concurrency,
            "memory_limit": m.streamer_memory_gib * 1024**3,
        }


@pytest.mark.parametrize("name", sorted(EKS_CONFIGS))
def test_grace_period_covers_prestop_sleep_and_vllms_shutdown_timeout(name: str) -> None:
    cfg = config_from_dict(EKS_CONFIGS[name])
    manifests = render(cfg)
    deployment = next(
        o for o in manifests if o["kind"] == "Deployment" and o["metadata"]["name"] == "vllm"
    )
    pod = deployment["spec"]["template"]["spec"]
    prestop = int(pod["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][1])
    shutdown = _parsed(name)["shutdown_timeout"]  # as vLLM itself reads the flag
    assert shutdown == int(cfg.model.shutdown_timeout) > 0
    assert pod["terminationGracePeriodSeconds"] >= prestop + shutdown


def _render_from_vllm_template_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, replacement: str
) -> None:
    """render() reads a copy of our templates in which vllm.yaml.j2 has `text` (which it must
    contain) replaced by `replacement`."""
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    vllm = templates / "vllm.yaml.j2"
    assert text in vllm.read_text()
    vllm.write_text(vllm.read_text().replace(text, replacement))
    monkeypatch.setattr(render_module, "resource_dir", lambda name: tmp_path / name)


def test_an_unknown_flag_in_the_template_fails_with_vllms_own_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = "            - --shutdown-timeout={{ m.shutdown_timeout | int }}\n"
    _render_from_vllm_template_with(
        tmp_path, monkeypatch, line, line + "            - --no-such-flag\n"
    )
    container = _container(render(config_from_dict({"profile": "eks"})))
    assert "--no-such-flag" in container["args"]
    result = _vllm_parse(container)
    assert result.returncode == 2
    assert "unrecognized arguments: --no-such-flag" in result.stderr


def test_a_streamer_setting_vllms_loader_does_not_know_fails_with_its_own_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    known = "(streamer_config | tojson)"
    _render_from_vllm_template_with(
        tmp_path, monkeypatch, known, "(dict(streamer_config, bogus=1) | tojson)"
    )
    result = _vllm_parse(_container(render(config_from_dict({"profile": "eks"}))))
    assert result.returncode != 0
    assert "Unexpected extra config keys for runai_streamer: {'bogus'}" in result.stderr


def test_the_pinned_vllm_serves_with_sleep_mode_on() -> None:
    # issue 24: a sleeping replica on warm capacity needs --enable-sleep-mode in the served
    # image; the flag exists (its /sleep and /wake_up routes are VLLM_SERVER_DEV_MODE only)
    cfg = config_from_dict({"profile": "eks", "model": {"extra_args": ["--enable-sleep-mode"]}})
    result = _vllm_parse(_container(render(cfg)))
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.splitlines()[-1])["enable_sleep_mode"] is True


def test_the_pinned_vllm_keeps_its_compile_cache_where_the_rendered_env_points() -> None:
    # model.compile_cache: the render sets VLLM_CACHE_ROOT on the volume the cache's pull and
    # push containers share; the pinned vLLM reads it (vllm/envs.py) and compiles under
    # <root>/torch_compile_cache/<hash> (vllm/compilation/backends.py)
    cfg = config_from_dict({"profile": "eks", "model": {"compile_cache": True}})
    pod = next(
        o for o in render(cfg) if o["kind"] == "Deployment" and o["metadata"]["name"] == "vllm"
    )["spec"]["template"]["spec"]
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"] if "value" in e}
    shared = {m["mountPath"] for c in pod["initContainers"] for m in c["volumeMounts"]}
    assert any(env["VLLM_CACHE_ROOT"].startswith(path + "/") for path in shared), (env, shared)
    probe = (
        "import inspect, vllm.envs as e, vllm.compilation.backends as b; print(e.VLLM_CACHE_ROOT);"
        " print('envs.VLLM_CACHE_ROOT, \"torch_compile_cache\"' in inspect.getsource(b))"
    )
    done = subprocess.run(
        [str(_vllm_python()), "-c", probe],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"VLLM_CACHE_ROOT": env["VLLM_CACHE_ROOT"], "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [env["VLLM_CACHE_ROOT"], "True"]


def test_an_invalid_value_fails_with_vllms_own_message() -> None:
    cfg = config_from_dict({"profile": "eks", "model": {"extra_args": ["--dtype=float7"]}})
    result = _vllm_parse(_container(render(cfg)))
    assert result.returncode == 2
    assert "invalid choice: 'float7'" in result.stderr


def _vllm_metric_names() -> set[str]:
    """Every `vllm:*` metric name the pinned release defines in its v1 metrics code."""
    where = subprocess.run(
        [
            str(_vllm_python()),
            "-c",
            "import importlib.util as u; print(u.find_spec('vllm').submodule_search_locations[0])",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    names: set[str] = set()
    for source in sorted((Path(where) / "v1" / "metrics").glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "name":
                value = node.value
                if isinstance(value, ast.Constant) and str(value.value).startswith("vllm:"):
                    names.add(str(value.value))
    assert "vllm:num_requests_waiting" in names, f"no metric names found under {where}"
    return names


def test_metric_names_we_read_and_scale_on_exist_in_the_pinned_vllm() -> None:
    defined = _vllm_metric_names()
    read = {*prometheus._GAUGES, *prometheus._COUNTERS, *prometheus._HISTOGRAMS}
    read.add("vllm:kv_cache_usage_perc")
    # The ScaledObject's query reads the collector's rename of vllm:* to vllm_* (DESIGN.md).
    scaled_on = DemoConfig().scaling.metric
    assert scaled_on.startswith("vllm_")
    read.add("vllm:" + scaled_on.removeprefix("vllm_"))
    assert read - defined == set(), f"not defined by the pinned vLLM: {sorted(read - defined)}"


def test_metric_names_and_buckets_our_simulated_replicas_emit_are_the_pinned_vllms() -> None:
    # the one exposition of the stand-in, the fleet's replicas and the tests' exporter
    families = (*vllm_metrics.GAUGES, *vllm_metrics.COUNTERS, *vllm_metrics.HISTOGRAMS)
    emitted = {family[0] for family in families} | {vllm_metrics.SUCCESS[0]}
    defined = _vllm_metric_names()
    assert emitted - defined == set(), (
        f"not defined by the pinned vLLM: {sorted(emitted - defined)}"
    )
    theirs = (
        subprocess.run(
            [
                str(_vllm_python()),
                "-c",
                "import json; from vllm.v1.metrics.buckets import histogram_buckets as b; "
                "print(json.dumps([list(b('time_to_first_token')), list(b('request_latency'))]))",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    assert json.loads(theirs) == [list(vllm_metrics.TTFT_BUCKETS), list(vllm_metrics.E2E_BUCKETS)]
