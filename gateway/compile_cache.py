"""vLLM's torch.compile cache kept in S3, so a new replica loads its compiled graphs instead of
compiling them (Inductor: ~42 s cold for Llama-3.1-8B, ~8 s from the cache).

vLLM keeps the cache under ``VLLM_CACHE_ROOT`` (``torch_compile_cache/<hash of config, code and
torch>/...``), which the render points at the pod's ``/models`` volume. Two steps of the vLLM
pod run this program from the gateway image:

- ``pull`` (an init container, before vLLM starts): when the prefix holds a complete cache (its
  marker object, written last), download every object under it into ``--dir``; else nothing:
  vLLM compiles cold. A failure says so in one line and exits 0: a cache must never keep a
  replica from starting.
- ``push`` (a container beside vLLM): wait until ``--ready-url`` answers 200 (vLLM serves, so
  its compile is finished and its files written), then, unless the marker exists already,
  upload every file under ``--dir`` and the marker last; then stay (a container that exits is
  restarted). The first replica of a configuration fills the cache (the warm one, at `up`).

Run: ``python -m gateway.compile_cache pull|push --bucket B --prefix P --dir D``; credentials
and region from the environment (IRSA's web identity on EKS; AWS_ENDPOINT_URL for tests).
Bad arguments: one line, exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

MARKER = ".tubedemo-complete.json"
"""The object written after every cache file: a prefix without it is a cache still being
written (or never finished) and is not pulled."""


def _key(prefix: str, name: str) -> str:
    return f"{prefix.strip('/')}/{name}"


def complete(client: Any, bucket: str, prefix: str) -> bool:
    """The prefix holds a finished cache (its marker exists). Listed, not HEAD: the role may
    list only its prefix, and S3 answers a HEAD of a missing key 403 without a bucket-wide
    list permission."""
    key = _key(prefix, MARKER)
    found = client.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("Contents", [])
    return any(obj["Key"] == key for obj in found)


def pull(client: Any, bucket: str, prefix: str, dest: Path) -> int:
    """Download a complete cache into ``dest``; the number of files (0: none to pull)."""
    if not complete(client, bucket, prefix):
        return 0
    base = prefix.strip("/") + "/"
    count = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base):
        for obj in page.get("Contents", []):
            relative = obj["Key"][len(base) :]
            if relative == MARKER or not relative or ".." in Path(relative).parts:
                continue
            target = dest / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(bucket, obj["Key"], str(target))
            count += 1
    return count


def push(client: Any, bucket: str, prefix: str, src: Path) -> int:
    """Upload every file under ``src``, the marker last; the number of files (0: the cache was
    complete already, or there is nothing to upload)."""
    if complete(client, bucket, prefix):
        return 0
    files = sorted(p for p in src.rglob("*") if p.is_file())
    for path in files:
        client.upload_file(str(path), bucket, _key(prefix, path.relative_to(src).as_posix()))
    if files:
        marker = {"files": len(files), "written": time.strftime("%Y-%m-%dT%H:%M:%SZ")}
        client.put_object(Bucket=bucket, Key=_key(prefix, MARKER), Body=json.dumps(marker))
    return len(files)


def wait_ready(url: str, timeout: float, every: float = 5.0) -> bool:
    """GET ``url`` every ``every`` s until it answers 200; False after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=every).status_code == 200:
                return True
        except httpx.HTTPError:
            pass  # vLLM not listening yet
        time.sleep(every)
    return False


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m gateway.compile_cache")
    p.add_argument("step", choices=("pull", "push"))
    p.add_argument("--bucket", required=True)
    p.add_argument("--prefix", required=True, help="S3 key prefix of this configuration's cache")
    p.add_argument("--dir", type=Path, required=True, help="VLLM_CACHE_ROOT")
    p.add_argument("--ready-url", help="push: vLLM's /health, polled until it answers 200")
    p.add_argument("--wait", type=float, default=1800.0, help="push: longest wait for ready (s)")
    p.add_argument("--stay", action="store_true", help="push: stay after pushing (a sidecar)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    import boto3

    client = boto3.client("s3")
    where = f"s3://{args.bucket}/{args.prefix.strip('/')}/"
    try:
        if args.step == "pull":
            count = pull(client, args.bucket, args.prefix, args.dir)
            said = f"{count} files from {where}" if count else f"none complete at {where}"
            print(f"compile cache: {said}", flush=True)
        elif args.ready_url and not wait_ready(args.ready_url, args.wait):
            print(f"compile cache: {args.ready_url} not ready in {args.wait:g} s; not pushed")
        else:
            count = push(client, args.bucket, args.prefix, args.dir)
            print(f"compile cache: {count} files to {where}", flush=True)
    except Exception as exc:  # a cache must never keep a replica from starting or serving
        line = (str(exc).splitlines() or [""])[0]
        print(f"compile cache {args.step} {where}: {type(exc).__name__}: {line}", flush=True)
    if args.stay:
        threading.Event().wait()  # a container that exits is restarted: stay, idle
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
