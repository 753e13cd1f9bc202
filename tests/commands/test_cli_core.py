"""The offline commands as a presenter runs them: real processes, real files, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.cli import tubedemo


def test_init_then_render_writes_valid_manifests_for_both_profiles(tmp_path: Path) -> None:
    for profile in ("eks", "local"):
        folder = tmp_path / profile
        folder.mkdir()
        assert tubedemo("init", "--profile", profile, cwd=folder).returncode == 0
        rendered = tubedemo("render", "-o", "out", cwd=folder)
        assert rendered.returncode == 0, rendered.stderr
        checked = tubedemo("validate", "out", cwd=folder)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "objects valid" in checked.stdout


def test_init_refuses_to_overwrite_an_existing_file(tmp_path: Path) -> None:
    (tmp_path / "demo.yaml").write_text("profile: local\n")
    result = tubedemo("init", cwd=tmp_path)
    assert result.returncode == 2
    assert "already exists" in result.stderr
    assert (tmp_path / "demo.yaml").read_text() == "profile: local\n"


def test_render_to_stdout_is_a_yaml_stream(tmp_path: Path) -> None:
    result = tubedemo("render", cwd=tmp_path)
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert docs[0]["kind"] == "Namespace" and docs[-1]["kind"] == "ScaledObject"


def test_validate_reports_clamp_min_in_one_line_and_exits_non_zero(tmp_path: Path) -> None:
    assert tubedemo("render", "-o", "out", cwd=tmp_path).returncode == 0
    so = next((tmp_path / "out").glob("*-scaledobject-*.yaml"))
    so.write_text(so.read_text().replace("queue + running", "clamp_min(queue * 50, 1)"))
    result = tubedemo("validate", "out", cwd=tmp_path)
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    assert "write max(queue * 50, 1) instead" in result.stderr


def test_validate_reports_the_unnamed_trigger_and_the_promql_formula_together(
    tmp_path: Path,
) -> None:
    assert tubedemo("init", cwd=tmp_path).returncode == 0
    assert tubedemo("render", "-o", "out", cwd=tmp_path).returncode == 0
    path = next((tmp_path / "out").glob("*-scaledobject-*.yaml"))
    so = yaml.safe_load(path.read_text())
    del so["spec"]["triggers"][0]["name"]
    so["spec"]["advanced"]["scalingModifiers"]["formula"] = "clamp_min(queue * 50, 1)"
    path.write_text(yaml.safe_dump(so))
    result = tubedemo("validate", "out", cwd=tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "2 problems in the manifests" in result.stderr
    assert "spec.triggers[0]: a trigger without `name`" in result.stderr
    assert "spec.advanced.scalingModifiers.formula: clamp_min() is PromQL" in result.stderr


def test_wrong_config_field_is_one_line_with_exit_2(tmp_path: Path) -> None:
    (tmp_path / "demo.yaml").write_text("scaling:\n  multipler: 3\n")
    result = tubedemo("render", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: demo.yaml: scaling.multipler: unknown field; did you mean 'multiplier'?"
    )


def test_config_show_prints_the_effective_values(tmp_path: Path) -> None:
    result = tubedemo("config", "show", "--set", "scaling.multiplier=7", cwd=tmp_path)
    assert result.returncode == 0
    assert yaml.safe_load(result.stdout)["scaling"]["multiplier"] == 7


def test_help_lists_the_offline_commands(tmp_path: Path) -> None:
    result = tubedemo("--help", cwd=tmp_path)
    for command in ("init", "render", "validate", "config", "crds"):
        assert command in result.stdout


def test_policy_takes_an_unquoted_account_id_from_set_and_names_its_bucket(
    tmp_path: Path,
) -> None:
    # README step 9 as written: --set cluster.account_id=$ACCOUNT
    bucket = "tubedemo-123456789012-us-west-2"
    for role in ("gateway", "vllm"):
        result = tubedemo("policy", role, "--set", "cluster.account_id=123456789012", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        resources = [r for s in json.loads(result.stdout)["Statement"] for r in s["Resource"]]
        assert f"arn:aws:s3:::{bucket}" in resources
    trust = tubedemo(
        "policy", "vllm", "--trust", "--oidc-issuer", "https://oidc.eks.us-west-2.amazonaws.com/id/AB",
        "--set", "cluster.account_id=123456789012", cwd=tmp_path,
    )  # fmt: skip
    assert trust.returncode == 0, trust.stderr
    principal = json.loads(trust.stdout)["Statement"][0]["Principal"]["Federated"]
    assert principal == (
        "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/AB"
    )


def test_policy_without_an_account_is_one_line_and_exit_2_never_a_placeholder(
    tmp_path: Path,
) -> None:
    for args in (("vllm",), ("gateway",), ("vllm", "--trust", "--oidc-issuer", "https://x/id/1")):
        result = tubedemo("policy", *args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stdout)
        assert result.stdout == ""
        assert "${AWS_ACCOUNT_ID}" not in result.stderr
        assert "set cluster.account_id" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_output_into_a_closed_pipe_ends_quietly_with_141_like_a_program_sigpipe_stops(
    tmp_path: Path,
) -> None:
    # `tubedemo simulate | head`: head exits, the next write fails. The command stops where it
    # was, says nothing (the reader asked for less) and exits 141, as `seq` or `git log` do in
    # a shell (128 + SIGPIPE): not 1, the README's code for a declined prompt (Click's and
    # Rich's default), not 0, since it stopped before writing everything.
    assert tubedemo("render", "-o", "out", cwd=tmp_path).returncode == 0
    for args in (["validate", "out"], ["simulate"], ["show", "--dry-run"], ["--help"]):
        read, write = os.pipe()
        os.close(read)  # the reader is gone before the first line
        done = subprocess.run(
            [sys.executable, "-m", "tubedemo", *args],
            cwd=tmp_path,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
        os.close(write)
        assert (done.returncode, done.stderr) == (141, ""), args


def test_render_and_validate_take_warm_capacity_on_eks_and_local_refuses_it_in_one_line(
    tmp_path: Path,
) -> None:
    warm = ("--set", "scaling.warm_capacity.replicas=2")
    assert tubedemo("render", "-o", "out", *warm, cwd=tmp_path).returncode == 0
    assert next((tmp_path / "out").glob("*-priorityclass-tubedemo-warm-capacity-*.yaml"))
    checked = tubedemo("validate", *warm, cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "ScaledObject/tubedemo/warm-capacity" in checked.stdout
    for command in ("render", "validate", "up"):
        refused = tubedemo(command, *warm, "--set", "profile=local", cwd=tmp_path)
        assert refused.returncode == 2, (command, refused.stdout, refused.stderr)
        assert "Traceback" not in refused.stderr
        (line,) = refused.stderr.strip().splitlines()
        assert "the local profile has no GPU nodes; set replicas 0 or use profile eks" in line
