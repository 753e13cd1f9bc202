"""The pinned Go builds, defined once: the control plane, the lab's controllers, the network
policy enforcer the tests use and the OpenTelemetry Collector; what each builds, where it is
cached (the key) and whether it is built.

``scripts/build_controlplane.py``, ``scripts/build_lab.py``, ``scripts/build_netpol.py`` and
``scripts/build_otelcol.py`` build what it defines (how a build runs, and the `go` commands,
are scripts/go_builder.py's: the product never runs a build, and only the process seam starts
programs); ``tubedemo.lab.binaries`` and ``scripts/prepare_tests.py`` ask it where the
binaries are, so a cache key has one definition and product code never executes a script.

It lives in the package (not in scripts/) because the product imports it, and it stays
standard library only (with ``tubedemo.core.cache``, ``errors`` and ``resources``) because the
scripts import it straight from the checkout, before the project's virtualenv exists. It needs
a checkout: tools/ holds each build's pins and its Go wrapper modules (with committed go.sum);
an installed wheel has no tools/.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
from dataclasses import dataclass
from pathlib import Path

from tubedemo.core.cache import cache_dir
from tubedemo.core.errors import ExternalToolError
from tubedemo.core.resources import repo_root


def checkout() -> Path:
    """The repository the builds' pins and wrapper modules are read from."""
    root = repo_root()
    if root is None:
        raise ExternalToolError(
            "the Go builds need a tubedemo checkout: their pinned modules live in tools/"
        )
    return root


def platform_tag() -> str:
    """`linux-amd64` and the like: a build is only good for the machine kind it ran on."""
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
    return f"{platform.system().lower()}-{arch}"


@dataclass(frozen=True)
class Unpacked:
    """A module whose unpacked folder (in GOMODCACHE) a build's stamp records: the lab reads
    CRDs, RBAC and KWOK's files from there."""

    stamp_key: str
    wrapper: str
    """The wrapper module (tools/<folder>/<wrapper>/) that requires it."""
    module: str
    pin: str
    """Its version's name in pins.json."""


@dataclass(frozen=True)
class GoBuild:
    """Binaries built from pinned Go wrapper modules (tools/<folder>/: pins.json and one
    folder per module with go.mod and go.sum) into ~/.cache/tubedemo/<folder>/<key>/, where
    <key> names the pinned versions and the platform. The folder holds the binaries and a
    stamp.json of the pins and a digest of the wrapper modules; a build is current when every
    binary is there and the stamp matches."""

    name: str
    """The script that builds it (its log prefix and messages)."""
    folder: str
    """tools/<folder>/ and the cache's ~/.cache/tubedemo/<folder>/."""
    override: str
    """Environment variable whose value replaces ~/.cache/tubedemo/<folder>."""
    modules: tuple[str, ...]
    """The wrapper modules, in download order."""
    binaries: tuple[str, ...]
    key_pins: tuple[tuple[str, str], ...]
    """(label, pin) pairs naming the cache folder, e.g. ("k8s", "kubernetes") -> k8s-v1.34.4."""
    unpacked: tuple[Unpacked, ...] = ()
    toolchains: tuple[tuple[str, str], ...] = ()
    """(wrapper module, pin of the Go toolchain it needs) for a module newer than this Go."""

    @property
    def tools(self) -> Path:
        return checkout() / "tools" / self.folder

    def pins(self) -> dict[str, str]:
        pins: dict[str, str] = json.loads((self.tools / "pins.json").read_text())
        return pins

    def toolchain(self, module: str) -> str:
        pin = dict(self.toolchains).get(module)
        return self.pins()[pin] if pin else "local"

    def versions_key(self) -> str:
        pins = self.pins()
        named = "_".join(f"{label}-{pins[pin]}" for label, pin in self.key_pins)
        return f"{named}_{platform_tag()}"

    def cache_dir(self) -> Path:
        return cache_dir(self.folder, override=self.override) / self.versions_key()

    def modules_digest(self) -> str:
        # A changed go.sum (say a re-tidy) means different sources: rebuild instead of trusting.
        h = hashlib.sha256()
        for name in self.modules:
            for f in ("go.mod", "go.sum"):
                h.update((self.tools / name / f).read_bytes())
        return h.hexdigest()[:16]

    def stamp_for(self) -> dict[str, str]:
        return {"key": self.versions_key(), "modules": self.modules_digest(), **self.pins()}

    def is_built(self, out: Path | None = None) -> bool:
        """A stamp and every binary are there (whatever pins the stamp names)."""
        out = out or self.cache_dir()
        return (out / "stamp.json").is_file() and all((out / b).is_file() for b in self.binaries)

    def is_current(self, out: Path | None = None) -> bool:
        """Built, and from today's pins and wrapper modules."""
        out = out or self.cache_dir()
        if not self.is_built(out):
            return False
        recorded = json.loads((out / "stamp.json").read_text())
        return all(recorded.get(k) == v for k, v in self.stamp_for().items())


CONTROL_PLANE = GoBuild(
    name="build-controlplane",
    folder="controlplane",
    override="TUBEDEMO_CONTROLPLANE_DIR",
    modules=("kubernetes", "etcd", "kwok"),
    binaries=("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "kwok"),
    key_pins=(("k8s", "kubernetes"), ("etcd", "etcd"), ("kwok", "kwok")),
    unpacked=(Unpacked("kwok_module_dir", "kwok", "sigs.k8s.io/kwok", "kwok"),),
)
"""Kubernetes (kube-apiserver, kube-controller-manager, kube-scheduler), etcd and KWOK."""

LAB = GoBuild(
    name="build-lab",
    folder="lab",
    override="TUBEDEMO_LAB_DIR",
    modules=("keda", "karpenter"),
    binaries=("keda-operator", "keda-adapter", "keda-webhooks", "karpenter-kwok"),
    key_pins=(("keda", "keda"), ("karpenter", "karpenter")),
    unpacked=(
        Unpacked("keda_module_dir", "keda", "github.com/kedacore/keda/v2", "keda"),
        Unpacked("karpenter_module_dir", "karpenter", "sigs.k8s.io/karpenter", "karpenter"),
    ),
    # Karpenter v1.14.3's go.mod says go 1.26.10, newer than Go 1.26.8 here, so its build
    # names its toolchain (fetched from the module proxy like any module, once).
    toolchains=(("karpenter", "karpenter_toolchain"),),
)
"""KEDA (operator, metrics API server, admission webhooks) and Karpenter's KWOK provider."""


@dataclass(frozen=True)
class CollectorBuild:
    """The OpenTelemetry Collector, built by the collector's own builder (OCB) with exactly the
    components of tools/otelcol/manifest.yaml, into ~/.cache/tubedemo/otelcol/<key>/otelcol,
    where <key> is the builder's version, a digest of the manifest and the platform."""

    name: str = "build-otelcol"
    override: str = "TUBEDEMO_OTELCOL_DIR"

    @property
    def manifest(self) -> Path:
        return checkout() / "tools" / "otelcol" / "manifest.yaml"

    def builder_pin(self) -> tuple[str, str]:
        """(module, version) of the builder, from the manifest's `builder:` block."""
        text = self.manifest.read_text()
        found = re.search(r"^builder:\n  module: (\S+)\n  version: (\S+)$", text, re.M)
        if found is None:
            raise ExternalToolError(f"{self.manifest} has no builder: module/version block")
        return found.group(1), found.group(2)

    def key(self) -> str:
        digest = hashlib.sha256(self.manifest.read_bytes()).hexdigest()[:12]
        return f"ocb-{self.builder_pin()[1]}_{digest}_{platform_tag()}"

    def cache_dir(self) -> Path:
        return cache_dir("otelcol", override=self.override) / self.key()

    def binary(self) -> Path:
        return self.cache_dir() / "otelcol"

    def is_current(self) -> bool:
        stamp = self.cache_dir() / "stamp.json"
        if not self.binary().is_file() or not stamp.is_file():
            return False
        return bool(json.loads(stamp.read_text()).get("key") == self.key())


OTELCOL = CollectorBuild()

NETPOL = GoBuild(
    name="build-netpol",
    folder="netpol",
    override="TUBEDEMO_NETPOL_DIR",
    modules=("kube-router",),
    binaries=("kube-router",),
    key_pins=(("kube-router", "kube-router"),),
    unpacked=(
        Unpacked(
            "module_dir", "kube-router", "github.com/cloudnativelabs/kube-router/v2", "kube-router"
        ),
    ),
)
"""kube-router, whose network policy controller (iptables and ipset on each node) enforces the
rendered NetworkPolicy in the tests, its RBAC from the module's own DaemonSet manifests."""
