#!/usr/bin/env python3
"""Install the pinned vLLM release into a separate, cached virtualenv, so tests can run vLLM's
own `vllm serve` argument parser on the args we render (tools/vllm/serve_args.py).

The release is the tag of the vLLM image the config renders (ModelConfig.image's default,
`vllm/vllm-openai:vX.Y.Z` -> the `vllm==X.Y.Z` wheel from PyPI; both read
tubedemo/core/vllm_release.py). Kept as
small as a faithful import allows: vllm itself with --no-deps; torch at the version vLLM
requires, with the CUDA libraries its import loads; then every other requirement vLLM's wheel
declares, at vLLM's own specifiers, except the GPU-kernel packages in LEFT_OUT below (no
parser imports them; they are most of the size).

Idempotent: ~/.cache/tubedemo/vllm-<version>/ ($XDG_CACHE_HOME is followed; base overridable
with TUBEDEMO_VLLM_ENV_DIR) with a stamp of what decides the env's contents: the version, the
Python, LEFT_OUT and RECIPE; a matching stamp is only reported. A refactor of this file keeps
the env (a 5 GB, ~10 min build). Standard library only.

Usage:
  scripts/build-vllm-env                 build if needed, print the env's python
  scripts/build-vllm-env --print-python  only print the env's python
  scripts/build-vllm-env --version       only print the pinned vLLM version
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, before the virtualenv exists: tubedemo's stdlib-only modules from the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tubedemo.core.cache import cache_dir
from tubedemo.core.vllm_release import VLLM_RELEASE

REPO = Path(__file__).resolve().parent.parent
TOOLS = REPO / "tools" / "vllm"
# GPU kernels, compilers and media codecs: needed to serve on a GPU, never by the parser.
# triton (~0.9 GB) also comes in through torch and xgrammar; it is uninstalled after.
LEFT_OUT = {
    "triton",
    "torchaudio",
    "torchvision",
    "torchcodec",
    "pynvvideocodec",
    "flashinfer-python",
    "apache-tvm-ffi",
    "tilelang",
    "nvidia-cudnn-frontend",
    "nvtx",
    "fastsafetensors",
    "instanttensor",
    "nvidia-cutlass-dsl",
    "quack-kernels",
    "tokenspeed-mla",
    "humming-kernels",
}
RECIPE = 1
"""Bump when build() changes what goes into the env in a way the version, the Python and
LEFT_OUT do not show."""

_FIRST_STAMP = "6e90411cd06dfd61"
"""The stamp's only other field as the extensionless scripts/build-vllm-env wrote it up to
commit 2687dfb ("requirements", a digest of its own source): that script's LEFT_OUT and steps
were RECIPE 1's, so its env counts as this stamp (`_as_today`) instead of costing everyone a
rebuild. It goes away with the next vLLM release, whose env is a new folder."""


def version() -> str:
    return VLLM_RELEASE


def env_dir() -> Path:
    return cache_dir(override="TUBEDEMO_VLLM_ENV_DIR") / f"vllm-{version()}"


def python() -> Path:
    return env_dir() / "bin" / "python"


def _digest(names: set[str]) -> str:
    return hashlib.sha256(" ".join(sorted(names)).encode()).hexdigest()[:16]


def stamp_for() -> dict[str, str]:
    return {
        "vllm": version(),
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "left_out": _digest(LEFT_OUT),
        "recipe": str(RECIPE),
    }


def _as_today(recorded: dict[str, str]) -> dict[str, str]:
    if recorded.get("requirements") != _FIRST_STAMP:
        return recorded
    return {**recorded, "left_out": "bb12359211c3f6b7", "recipe": "1"}  # LEFT_OUT at 2687dfb


def is_current() -> bool:
    stamp = env_dir() / "stamp.json"
    if not python().is_file() or not stamp.is_file():
        return False
    recorded = _as_today(json.loads(stamp.read_text()))
    return all(recorded.get(k) == v for k, v in stamp_for().items())


# Runs in the new env: print the requirements of a distribution that apply here (markers
# evaluated, extras left out), one per line, with pip's own vendored `packaging`.
_REQUIRES = """
import importlib.metadata, sys
from pip._vendor.packaging.requirements import Requirement
for text in importlib.metadata.requires(sys.argv[1]) or []:
    req = Requirement(text)
    if req.marker is None or req.marker.evaluate({"extra": ""}):
        print(str(req).split(";")[0].strip())
"""


def _requires(py: Path, dist: str) -> dict[str, str]:
    out = subprocess.run(
        [str(py), "-c", _REQUIRES, dist], check=True, capture_output=True, text=True
    ).stdout
    return {_norm(re.split(r"[\[<>=!~ ]", line)[0]): line for line in out.splitlines()}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pip(py: Path, *args: str) -> None:
    cmd = [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args]
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def build() -> int:
    out = env_dir()
    if is_current():
        print(python())
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".building-vllm-{version()}-") as tmp:
        # Built in place of the final folder's name inside tmp, then renamed: venvs record
        # their own path, so the folder is created under its final name by a rename of tmp.
        stage = Path(tmp) / "env"
        subprocess.run([sys.executable, "-m", "venv", str(stage)], check=True)
        py = stage / "bin" / "python"
        pip(py, "--no-deps", f"vllm=={version()}")
        vllm_requires = _requires(py, "vllm")
        torch = vllm_requires.get("torch")
        if torch is None:
            print("build-vllm-env: vLLM's metadata names no torch version", file=sys.stderr)
            return 1
        pip(py, "--no-deps", torch)
        torch_requires = [r for n, r in _requires(py, "torch").items() if n not in LEFT_OUT]
        pip(py, *torch_requires)
        wanted = [r for n, r in vllm_requires.items() if n not in LEFT_OUT and n != "torch"]
        pip(py, *wanted)
        leaked = [n for n in LEFT_OUT if any(stage.glob(f"lib/python*/site-packages/{n}"))]
        for name in leaked:
            subprocess.run([str(py), "-m", "pip", "uninstall", "-q", "-y", name], check=False)
        (stage / "stamp.json").write_text(json.dumps(stamp_for(), indent=2) + "\n")
        if out.exists():
            shutil.rmtree(out)
        stage.rename(out)
    # The venv's own scripts name the staging path; we only ever run bin/python -m ..., and
    # bin/python is a symlink to the base interpreter, so the renamed env works as is.
    check = subprocess.run(
        [str(python()), str(TOOLS / "serve_args.py"), "facebook/opt-125m"],
        capture_output=True,
        text=True,
        check=False,
    )
    if check.returncode != 0:
        (out / "stamp.json").unlink()
        tail = "\n".join(check.stderr.strip().splitlines()[-5:])
        print(f"build-vllm-env: vLLM's parser does not import:\n{tail}", file=sys.stderr)
        print("  (a package in LEFT_OUT may be needed after all)", file=sys.stderr)
        return 1
    print(f"[build-vllm-env] built in {time.monotonic() - start:.0f}s", flush=True)
    print(python())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--print-python", action="store_true", help="print the env's python")
    parser.add_argument("--version", action="store_true", help="print the pinned vLLM version")
    args = parser.parse_args(argv)
    if args.version:
        print(version())
        return 0
    if args.print_python:
        print(python())
        return 0
    try:
        return build()
    except subprocess.CalledProcessError as exc:
        print(f"build-vllm-env: {' '.join(map(str, exc.cmd[:6]))} failed (exit {exc.returncode})")
        return 1


if __name__ == "__main__":
    sys.exit(main())
