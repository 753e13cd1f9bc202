#!/usr/bin/env python3
"""Install or build everything the test suite needs, idempotently: `make test` runs this first.

Each step is keyed by its pins (a stamp, a package list, a Make target) and prints one progress
line: `[prepare] <step>: present` when its key matches, otherwise `[prepare] <step>: done in S s`
when it is built. Missing steps run in two lanes at once: the CPU-bound Go builds (control plane,
collector) one after the other in one lane, the network/IO-bound steps (apt, CRDs, npm, the
mmdebstrap base, the vLLM download) in the other, so a cold run costs the longer lane, not the
sum (one line before they start names both lanes). A heavy step's own output goes to a log under
~/.cache/tubedemo/logs/ ($XDG_CACHE_HOME is followed); every build's time is appended to
prepare-times.log there. On failure the step's line says FAILED with its log, the log's tail is
printed, the other lane finishes the step it is in and starts no other, and the exit is non-zero.

Add a prerequisite by adding one `Step` to STEPS below (and, when it is an apt package, to
APT_PACKAGES); give it lane="cpu" only when it is a CPU-bound build. Tests that need a prepared
thing skip outside `make test` and fail inside it (make test sets TUBEDEMO_REQUIRE_PREPARED=1;
see tests/prepared.py).

Only the standard library is used, so a fresh machine can run it with python3; steps that
need tubedemo itself (the CRD fetch) run it with the interpreter that runs this script
(`make test` uses the project's .venv).

Usage:
  scripts/prepare-tests            every step (missing ones in two lanes)
  scripts/prepare-tests crds ...   only the named steps (names as in `--list`)
  scripts/prepare-tests --list     the steps and whether each is present
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

# Run as a script, before the virtualenv exists: tubedemo's stdlib-only modules from the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts import build_eks_tools, build_image_base, build_vllm_env
from tubedemo.core.cache import cache_dir
from tubedemo.core.gobuild import CONTROL_PLANE, LAB, NETPOL, OTELCOL

REPO = Path(__file__).resolve().parent.parent
LOGS = cache_dir("logs")

# Debian packages the suite uses, grouped by what needs them. One `apt-get update` at most per
# run, and only when something is missing.
APT_PACKAGES: dict[str, tuple[str, ...]] = {
    # web end-to-end test: real headless Chromium (tests/web)
    "chromium": ("chromium", "chromium-driver"),
    # test hosts in network namespaces of our own (tests/netns.py)
    "iproute2": ("iproute2",),
    # what kube-router's network policy controller runs (tests/kube/test_network_policy.py)
    "network policy": ("iptables", "ipset"),
    # image builds and a loopback registry (issue #13 items 1-2)
    "container tools": ("buildah", "mmdebstrap", "skopeo", "docker-registry", "uidmap"),
}


class StepFailed(Exception):
    """A step's command failed; the message names it and where its log is."""


@dataclass(frozen=True)
class Step:
    """One prerequisite: `present()` says whether its key matches, `make()` builds it."""

    name: str
    cold: str
    """Rough cold cost, shown while it runs (e.g. "cold ~8 min")."""
    present: Callable[[], bool]
    make: Callable[[Path], None]
    """Builds the thing; takes the path of the step's log file."""
    lane: str = "io"
    """"cpu" for a CPU-bound build (the Go builds: they run one after the other), "io" for
    downloads and installs; the two lanes run at the same time."""


def run_logged(
    cmd: Sequence[str], log: Path, *, env: dict[str, str] | None = None, cwd: Path = REPO
) -> None:
    """Run cmd with its output appended to log; on failure raise with the log's tail."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as sink:
        sink.write(f"\n$ {' '.join(cmd)}\n")
        sink.flush()
        result = subprocess.run(
            list(cmd), cwd=cwd, stdout=sink, stderr=subprocess.STDOUT, env=env, check=False
        )
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        raise StepFailed(f"`{' '.join(cmd)}` exited {result.returncode}; log {log}:\n{tail}")


# --- apt ---------------------------------------------------------------------------------------

_apt_updated = False


def _missing(packages: Sequence[str]) -> list[str]:
    missing = []
    for pkg in packages:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True, check=False
        )
        if out.returncode != 0 or "install ok installed" not in out.stdout:
            missing.append(pkg)
    return missing


def _apt(args: Sequence[str], log: Path) -> None:
    prefix: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            raise StepFailed(f"installing Debian packages needs root: apt-get {' '.join(args)}")
        prefix = ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run_logged([*prefix, "apt-get", *args], log, env=env)


def apt_step(name: str, packages: tuple[str, ...]) -> Step:
    def make(log: Path) -> None:
        global _apt_updated
        if not _apt_updated:
            _apt(["update", "-qq"], log)
            _apt_updated = True
        _apt(["install", "-y", "-qq", "--no-install-recommends", *_missing(packages)], log)

    return Step(name, "cold ~1-3 min", lambda: not _missing(packages), make)


# --- the control plane (scripts/build-controlplane; key and stamp: tubedemo.core.gobuild) ------


def _controlplane_current() -> bool:
    return CONTROL_PLANE.is_current()


def _build_controlplane(log: Path) -> None:
    run_logged([sys.executable, str(REPO / "scripts" / "build-controlplane")], log)


# --- the lab's controllers: KEDA and Karpenter's KWOK provider (scripts/build-lab; gobuild) -----


def _lab_current() -> bool:
    return LAB.is_current()


def _build_lab(log: Path) -> None:
    run_logged([sys.executable, str(REPO / "scripts" / "build-lab")], log)


# --- kube-router, the NetworkPolicy enforcer of the tests (scripts/build-netpol) ----------------


def _netpol_current() -> bool:
    return NETPOL.is_current()


def _build_netpol(log: Path) -> None:
    run_logged([sys.executable, str(REPO / "scripts" / "build-netpol")], log)


# --- upstream CRDs from the pinned Go modules (tubedemo crds fetch) ------------------------------


def _crds_cached() -> bool:
    probe = "import sys; from tubedemo.manifests.crds import is_cached; sys.exit(not is_cached())"
    return subprocess.run([sys.executable, "-c", probe], cwd=REPO, check=False).returncode == 0


def _fetch_crds(log: Path) -> None:
    run_logged([sys.executable, "-m", "tubedemo", "crds", "fetch"], log)


# --- the web page (the Makefile target is keyed by web/'s sources and lock file) ---------------


def _web_built() -> bool:
    target = "web/dist/index.html"
    quiet = subprocess.run(["make", "-q", target], cwd=REPO, capture_output=True, check=False)
    return quiet.returncode == 0 and (REPO / "web" / "node_modules").is_dir()


def _build_web(log: Path) -> None:
    if not (REPO / "web" / "node_modules").is_dir():
        run_logged(["npm", "ci", "--no-audit", "--no-fund"], log, cwd=REPO / "web")
    run_logged(["make", "web/dist/index.html"], log)


# --- the local base image the image tests build our Dockerfiles from (scripts/build-image-base
# keys it by suite, packages, recipe and the host's CA certificates) ---------------------------


def _image_base_current() -> bool:
    return build_image_base.is_current()


def _build_image_base(log: Path) -> None:
    run_logged([sys.executable, str(REPO / "scripts" / "build-image-base")], log)


# --- the OpenTelemetry Collector (scripts/build-otelcol, keyed by the builder and manifest) ----


def _otelcol_current() -> bool:
    return OTELCOL.is_current()


def _build_otelcol(log: Path) -> None:
    run_logged([sys.executable, str(REPO / "scripts" / "build-otelcol")], log)


# --- vLLM's own parser: the pinned release in a cached virtualenv (scripts/build-vllm-env) -----


def _vllm_env_current() -> bool:
    return build_vllm_env.is_current()


def _build_vllm_env(log: Path) -> None:
    run_logged([sys.executable, str(REPO / "scripts" / "build-vllm-env")], log)


# --- eksctl, helm and the charts the EKS tests judge with (scripts/build-eks-tools, own stamp) ---


def _eks_tools_current() -> bool:
    return build_eks_tools.is_current()


def _build_eks_tools(log: Path) -> None:
    run_logged([sys.executable, str(REPO / "scripts" / "build-eks-tools")], log)


# --- the list: add a prerequisite here ----------------------------------------------------------

STEPS: list[Step] = [
    *(apt_step(name, pkgs) for name, pkgs in APT_PACKAGES.items()),
    Step("control plane", "cold ~8 min", _controlplane_current, _build_controlplane, "cpu"),
    Step("netpol", "cold ~4 min", _netpol_current, _build_netpol, "cpu"),
    Step("crds", "cold ~10 s", _crds_cached, _fetch_crds),
    Step("web page", "cold ~1 min", _web_built, _build_web),
    Step("image base", "cold ~3 min", _image_base_current, _build_image_base),
    Step("otelcol", "cold ~14 min", _otelcol_current, _build_otelcol, "cpu"),
    Step("vllm env", "cold ~10 min, 5 GB", _vllm_env_current, _build_vllm_env),
    Step(
        "eks tools",
        "cold ~15 min idle, 70+ min on a busy machine",
        _eks_tools_current,
        _build_eks_tools,
        "cpu",
    ),
]


# Named steps that a plain run (make test) leaves out: too slow for the cold-CI budget on two
# cores. `scripts/prepare-tests lab` (or `nox -s lab`) builds them; their tests run whenever
# what they build is present.
OPTIONAL_STEPS: list[Step] = [
    Step("lab", "cold ~10 min idle, 60+ min on a busy machine", _lab_current, _build_lab, "cpu"),
]


def slug(name: str) -> str:
    return name.replace(" ", "-")


LANES = {"cpu": "Go builds", "io": "downloads and installs"}


def _log(step: Step) -> Path:
    return LOGS / f"prepare-{slug(step.name)}.log"


def _build(step: Step) -> tuple[float, str | None]:
    """Make one step; (seconds, None) when it is present afterwards, else (seconds, why not)."""
    start = time.monotonic()
    try:
        step.make(_log(step))
    except StepFailed as exc:
        return time.monotonic() - start, str(exc)
    seconds = time.monotonic() - start
    if not step.present():
        return seconds, f"built, but still not present; log {_log(step)}"
    LOGS.mkdir(parents=True, exist_ok=True)
    with (LOGS / "prepare-times.log").open("a") as times:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        times.write(f"{stamp} {slug(step.name)} {seconds:.0f} s\n")
    return seconds, None


def _one_after_another(steps: Sequence[Step]) -> int:
    for step in steps:
        print(f"[prepare] {step.name}: building ({step.cold})…", end="", flush=True)
        seconds, failure = _build(step)
        if failure is not None:
            print(f" FAILED after {seconds:.0f} s (log {_log(step)})", flush=True)
            print(f"prepare-tests: {step.name}: {failure}", file=sys.stderr)
            return 1
        print(f" done in {seconds:.0f} s", flush=True)
    return 0


def _in_lanes(lanes: dict[str, list[Step]]) -> int:
    """Each lane's steps in order, the lanes at the same time; one line per finished step."""
    said = " | ".join(
        f"{LANES[lane]}: {', '.join(f'{s.name} ({s.cold})' for s in steps)}"
        for lane, steps in lanes.items()
    )
    print(f"[prepare] building in two lanes, logs in {LOGS}: {said}", flush=True)
    lock = threading.Lock()
    failed: list[str] = []

    def run(steps: list[Step]) -> None:
        for step in steps:
            with lock:
                if failed:
                    print(f"[prepare] {step.name}: not started ({failed[0]} failed)", flush=True)
                    continue
            seconds, failure = _build(step)
            with lock:
                if failure is None:
                    print(f"[prepare] {step.name}: done in {seconds:.0f} s", flush=True)
                    continue
                failed.append(step.name)
                print(f"[prepare] {step.name}: FAILED after {seconds:.0f} s (log {_log(step)})")
                print(f"prepare-tests: {step.name}: {failure}", file=sys.stderr, flush=True)
                sys.stdout.flush()

    threads = [threading.Thread(target=run, args=(steps,), daemon=True) for steps in lanes.values()]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():  # a timed join keeps Ctrl-C working in the main thread
            thread.join(timeout=1.0)
    return 1 if failed else 0


def prepare(steps: Sequence[Step]) -> int:
    lanes: dict[str, list[Step]] = {}
    for step in steps:
        if step.present():
            print(f"[prepare] {step.name}: present", flush=True)
        else:
            lanes.setdefault(step.lane, []).append(step)
    if len(lanes) < 2:
        return _one_after_another([s for steps in lanes.values() for s in steps])
    return _in_lanes(lanes)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("steps", nargs="*", help="only these steps (see --list)")
    parser.add_argument("--list", action="store_true", help="list the steps and their state")
    args = parser.parse_args(argv)
    by_slug = {slug(s.name): s for s in [*STEPS, *OPTIONAL_STEPS]}
    unknown = [name for name in args.steps if slug(name) not in by_slug]
    if unknown:
        parser.error(f"unknown step {', '.join(unknown)}; steps: {', '.join(by_slug)}")
    chosen = [by_slug[slug(name)] for name in args.steps] or STEPS
    if args.list:
        for step in [by_slug[slug(name)] for name in args.steps] or [*STEPS, *OPTIONAL_STEPS]:
            print(f"{slug(step.name):16} {'present' if step.present() else 'missing'}")
        return 0
    return prepare(chosen)


if __name__ == "__main__":
    sys.exit(main())
