"""vLLM's compile cache through S3: `python -m gateway.compile_cache` (the program the vLLM pod
runs from the gateway image) against moto in server mode on loopback, a real S3-speaking server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3

from gateway.compile_cache import MARKER, wait_ready
from tests.gateway.moto_s3 import MotoS3

PREFIX = "compile-cache/abc123"


def _run(step: str, s3: MotoS3, folder: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "gateway.compile_cache", step, "--bucket", s3.bucket]
    argv += ["--prefix", PREFIX, "--dir", str(folder), *extra]
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=60, check=False, env=dict(os.environ)
    )


def _compiled(root: Path) -> dict[str, bytes]:
    """What vLLM leaves under VLLM_CACHE_ROOT after a compile (names as vLLM 0.33.0 lays out its
    torch_compile_cache: <hash>/rank_0_0/backbone/...)."""
    backbone = "torch_compile_cache/5e1f0a9c2b/rank_0_0/backbone"
    files = {
        f"{backbone}/vllm_compile_cache.py": b"{(1, 8192): 'a'}",
        f"{backbone}/artifact_compile_range_1_8192": b"\x00" * 4096,
        f"{backbone}/computation_graph.py": b"def forward(): ...",
    }
    for name, body in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(body)
    return files


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_the_first_replica_pulls_nothing_then_a_new_one_gets_what_it_pushed(
    s3: MotoS3, tmp_path: Path
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    cold = _run("pull", s3, first)
    assert cold.returncode == 0 and "none complete" in cold.stdout
    assert _tree(first) == {}
    files = _compiled(first)  # vLLM compiled cold and wrote its cache
    pushed = _run("push", s3, first)
    assert pushed.returncode == 0 and "3 files to" in pushed.stdout, pushed.stdout + pushed.stderr
    warm = _run("pull", s3, second)
    assert warm.returncode == 0 and "3 files from" in warm.stdout
    assert _tree(second) == files


def test_a_cache_without_its_marker_is_not_pulled_and_a_complete_one_not_pushed_again(
    s3: MotoS3, tmp_path: Path
) -> None:
    client = boto3.client("s3", endpoint_url=s3.endpoint)
    client.put_object(Bucket=s3.bucket, Key=f"{PREFIX}/torch_compile_cache/x/half", Body=b"1")
    assert "none complete" in _run("pull", s3, tmp_path).stdout  # a push cut short
    client.put_object(Bucket=s3.bucket, Key=f"{PREFIX}/{MARKER}", Body=b"{}")
    source = tmp_path / "other"
    _compiled(source)
    again = _run("push", s3, source)
    assert "0 files to" in again.stdout  # complete already: the first replica's cache stays
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=s3.bucket)["Contents"]}
    assert keys == {f"{PREFIX}/torch_compile_cache/x/half", f"{PREFIX}/{MARKER}"}


def test_s3_away_is_one_line_and_never_fails_the_replica(s3: MotoS3, tmp_path: Path) -> None:
    s3.stop()
    done = _run("pull", s3, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"compile cache pull s3://{s3.bucket}/{PREFIX}/: ")
    assert len(done.stdout.strip().splitlines()) == 1 and done.stderr == ""


def test_push_waits_for_vllm_to_serve_and_gives_up_after_its_wait() -> None:
    # nothing listens on the discard port: not ready within a bounded wait
    assert wait_ready("http://127.0.0.1:9/health", timeout=0.3, every=0.1) is False


def test_prepare_looks_for_the_marker_the_push_writes() -> None:
    from tubedemo.prepare.lookup import COMPILE_CACHE_MARKER

    assert MARKER == COMPILE_CACHE_MARKER  # the gateway imports nothing from tubedemo
