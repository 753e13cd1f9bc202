"""How long a new GPU node and a new pod take to serve, as the twin assumes it: one named step per
stage of the start-up, each with its figure, where the figure comes from, and the rendered flag
or field it follows. Pure.

The steps of a new replica on a new node, in order (the start-up waterfall's bars):

- ``batch``: Karpenter's batching window closes (``provisioning_batch``, its 1 s idle default);
- ``node``: the NodeClaim's instance boots and the Node is Ready (``node_launch``, per type);
- ``image``: the vLLM image is on the node: from the snapshot's data volume, initialized at
  ``gpu_pool.volume_initialization_rate`` while the node boots (or read lazily), else pulled;
- ``container``: the container starts, NVIDIA driver init included;
- ``engine``: vLLM's imports, API server, engine core, CUDA context, memory profiling;
- ``weights``: streamed from S3 by the Run:ai streamer (the node's network or the streams cap
  it), or downloaded from the hub and read from disk;
- ``compile``: torch.compile, from vLLM's compile cache when the render keeps it in S3
  (``model.compile_cache``), else cold (``--enforce-eager`` skips it);
- ``graphs``: CUDA-graph capture, one graph per ``model.graph_sizes`` entry;
- ``probe``: the startupProbe sees the answer, half a period on average.

``image_pull_seconds`` is the ``image`` step and ``model_load_seconds`` the steps after it; the
world charges ``node_launch`` and Karpenter's batch itself. ``twin.startup.image_pull`` /
``model_load`` win when set (one step each then). A pod on a node that is already Ready pays
only the pod's steps. Every figure is for one instance type: the world uses the type Karpenter
launches for one pod (the cheapest one-GPU type of the pool) for every node, as the lab's KWOK
stages have one delay too; ``simulate`` prints each allowed type side by side. On the local
profile the pod is the CPU stand-in on the cluster's own node: its image is there with the warm
replica and it is Ready by its probes (one ``ready`` step); ``startup_case`` says which case in
one line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tubedemo.aws.s3_layout import compile_cache_rendered
from tubedemo.core.capacity import NETWORK_GBPS
from tubedemo.core.config import AUTO, DemoConfig, StartupModel

IMAGE_PULLED = 270.0
"""Image pull (s) of the ~10 GB vLLM image on a new node: 4-5 min measured in the original talk."""
STANDIN_IMAGE_PULL = 0.0
"""Image pull (s) of the local profile's stand-in: the warm replica pulled it before the talk,
and every stand-in pod lands on the cluster's own node (no Karpenter, no new node)."""
STANDIN_TO_READY = 13.0
"""Container start -> Ready (s) of the local profile's CPU stand-in: no weights, it listens ~2 s
after start (measured: `PORT` after 1.9 s at load 11); templates/vllm.yaml.j2's startupProbe
(every 10 s) passes at its second try, then the next readiness probe (every 5 s, 2.5 s on
average) marks it Ready."""
EAGER_FLAG = "--enforce-eager"
"""vLLM's flag that skips torch.compile and CUDA graphs (at some decode throughput)."""
DEFAULT_NETWORK_GBPS = 10.0
"""Network of an instance type missing from the table (Gbit/s): the smallest g5/g6 figure."""


def _local(cfg: DemoConfig) -> bool:
    """The local profile: vLLM is the CPU stand-in on the cluster's own node."""
    return cfg.profile == "local"


@dataclass(frozen=True)
class StartupStep:
    """One stage of a replica's start-up as the twin assumes it."""

    name: str
    seconds: float
    source: str
    """Where the figure comes from (a measurement, a derivation, an assumption)."""
    follows: str
    """The rendered flag or field (or config) this step depends on; empty when none does."""


def startup_instance_type(cfg: DemoConfig) -> str:
    """The instance type the twin's start-up figures are for: the one Karpenter launches for a
    single pod, the cheapest one-GPU type of the pool at the capacity type it prefers."""
    types = cfg.gpu_pool.instance_types
    if not types:
        return "g5.2xlarge"
    prices = cfg.prices.spot if "spot" in cfg.gpu_pool.capacity_types else cfg.prices.on_demand
    gpus = cfg.twin.startup.gpus_per_node
    single = [t for t in types if gpus.get(t, 1) == 1] or list(types)
    return min(single, key=lambda t: (prices.get(t, math.inf), types.index(t)))


def startup_steps(cfg: DemoConfig, instance_type: str | None = None) -> tuple[StartupStep, ...]:
    """Every step of a new replica on a new node of ``instance_type`` (default: the pool's
    first), in order."""
    kind = instance_type or startup_instance_type(cfg)
    st = cfg.twin.startup
    node = st.node_launch_by_type.get(kind, st.node_launch)
    head = (
        StartupStep(
            "batch",
            st.provisioning_batch,
            "Karpenter's BATCH_IDLE_DURATION default (up to BATCH_MAX_DURATION 10 s while pods "
            "keep coming)",
            "twin.startup.provisioning_batch (Karpenter settings)",
        ),
        StartupStep(
            "node",
            node,
            f"twin.startup.node_launch_by_type[{kind}]"
            if kind in st.node_launch_by_type
            else "37 s measured (g4dn.2xlarge spot, Bottlerocket); 30-40 s typical",
            "NodePool + EC2NodeClass (Bottlerocket alias)",
        ),
        _image_step(cfg, node),
    )
    return head + _pod_steps(cfg, kind)


def pod_steps(cfg: DemoConfig, instance_type: str | None = None) -> tuple[StartupStep, ...]:
    """The steps of a new pod on a node that is Ready with the image: container to probe."""
    return _pod_steps(cfg, instance_type or startup_instance_type(cfg))


def _image_step(cfg: DemoConfig, node_boot: float) -> StartupStep:
    step = _vllm_image_step(cfg, node_boot)
    st = cfg.twin.startup
    if st.image_pull is not None or _local(cfg) or not compile_cache_rendered(cfg):
        return step
    # the compile cache's helpers run from the gateway image, which the snapshot lacks: the
    # kubelet pulls it before the init container, at the pace of an image pulled per node
    rate = st.image_gib * 1024 / IMAGE_PULLED
    helper = st.helper_image_mib / rate
    return StartupStep(
        "image",
        step.seconds + helper,
        f"{step.source}; + the gateway image (compile-cache helpers, not on the snapshot) "
        f"{st.helper_image_mib:g} MiB at {rate:.0f} MiB/s (the ~10 GB pull's pace) = "
        f"{helper:.0f} s",
        f"{step.follows}; compile-cache-pull init container (model.compile_cache)",
    )


def _vllm_image_step(cfg: DemoConfig, node_boot: float) -> StartupStep:
    st = cfg.twin.startup
    if st.image_pull is not None:
        return StartupStep("image", st.image_pull, "set", "twin.startup.image_pull")
    if _local(cfg):
        return StartupStep(
            "image", STANDIN_IMAGE_PULL, "stand-in image, pulled with the warm replica", ""
        )
    snapshot = cfg.gpu_pool.image_snapshot_id if cfg.profile == "eks" else None
    if not snapshot:
        return StartupStep(
            "image",
            IMAGE_PULLED,
            "~10 GB pulled per node: 4-5 min measured (original talk)",
            "no gpu_pool.image_snapshot_id",
        )
    rate = cfg.gpu_pool.volume_initialization_rate
    where = "image on the snapshot `tubedemo prepare` makes" if snapshot == AUTO else snapshot
    if rate is None:
        read = st.image_gib * 1024 / st.lazy_volume_mib_s
        return StartupStep(
            "image",
            max(0.0, read - node_boot),
            f"{where}, read lazily from S3: {st.image_gib:g} GiB at an assumed "
            f"{st.lazy_volume_mib_s:g} MiB/s = {read:.0f} s, {node_boot:.0f} s of it in the boot",
            "EC2NodeClass snapshotID without volumeInitializationRate",
        )
    ready = st.image_gib * 1024 / rate
    return StartupStep(
        "image",
        max(0.0, ready - node_boot),
        f"{where}; {st.image_gib:g} GiB initialized at {rate} MiB/s in {ready:.0f} s from the "
        f"instance's launch, inside the {node_boot:.0f} s boot",
        f"EC2NodeClass volumeInitializationRate: {rate}",
    )


def _pod_steps(cfg: DemoConfig, kind: str) -> tuple[StartupStep, ...]:
    st = cfg.twin.startup
    if st.model_load is not None:
        return (StartupStep("ready", st.model_load, "set", "twin.startup.model_load"),)
    if _local(cfg):
        return (
            StartupStep(
                "ready",
                STANDIN_TO_READY,
                "CPU stand-in, no weights: listening after ~2 s, then its probes",
                "startupProbe every 10 s, readinessProbe every 5 s (the stand-in's)",
            ),
        )
    model = cfg.model
    eager = EAGER_FLAG in model.extra_args
    sizes = model.graph_sizes
    return (
        StartupStep(
            "container",
            st.container_start,
            "~15 s measured incl. NVIDIA driver init (Bottlerocket, g4dn)",
            f"gpu_pool.ami_alias {cfg.gpu_pool.ami_alias} (its NVIDIA driver init)",
        ),
        StartupStep(
            "engine",
            st.engine_init,
            "32 s measured (g4dn.2xlarge); ~30 s with a warm compile cache (vllm#20264)",
            f"model.image {model.image} (imports, API server, engine core; CPU-bound)",
        ),
        _weights_step(cfg, kind),
        _compile_step(cfg, eager),
        StartupStep(
            "graphs",
            0.0 if eager else len(sizes) * st.graph_capture_per_size,
            "skipped"
            if eager
            else f"{len(sizes)} sizes x {st.graph_capture_per_size:g} s (3 s for 7 sizes measured)",
            EAGER_FLAG if eager else f"--cudagraph-capture-sizes {' '.join(map(str, sizes))}",
        ),
        StartupStep(
            "probe",
            model.startup_probe_period / 2,
            "half a startupProbe period; the kubelet probes readiness at once after it",
            f"startupProbe.periodSeconds: {model.startup_probe_period:g}",
        ),
    )


def _compile_step(cfg: DemoConfig, eager: bool) -> StartupStep:
    st = cfg.twin.startup
    if eager:
        return StartupStep("compile", 0.0, "skipped", EAGER_FLAG)
    if compile_cache_rendered(cfg):
        return StartupStep(
            "compile",
            st.compile_cached,
            "compiled graphs loaded from the cache: Dynamo 7.5 s + load (vllm#20264; Tensorfuse "
            "10 + 13 s, L40S); the first replica of a configuration compiles cold and fills it",
            "model.compile_cache: VLLM_CACHE_ROOT pulled from S3 (compile-cache-pull)",
        )
    return StartupStep(
        "compile",
        st.compile_cold,
        "Inductor, no cache: 42 s for Llama-3.1-8B (L40S)",
        "no compile cache (model.compile_cache off, or weights not from S3)",
    )


def _weights_step(cfg: DemoConfig, kind: str) -> StartupStep:
    st = cfg.twin.startup
    megabytes = cfg.twin.engine.weights_gib * 1024**3 / 1e6
    if cfg.model.weights_uri:
        network = NETWORK_GBPS.get(kind, DEFAULT_NETWORK_GBPS) * 1000 / 8
        streams = cfg.streamer_concurrency
        rate = min(network, streams * st.s3_stream_mb_s)
        cap = f"{kind}'s network" if network <= rate else f"{streams} streams"
        return StartupStep(
            "weights",
            megabytes / rate,
            f"{megabytes / 1000:.2f} GB from S3 at {rate / 1000:.2f} GB/s ({cap}; "
            f"{st.s3_stream_mb_s:g} MB/s per stream measured)",
            f"--load-format=runai_streamer, concurrency {streams}",
        )
    download = megabytes / st.hub_mb_s
    read = megabytes / st.disk_mb_s
    return StartupStep(
        "weights",
        download + read,
        f"{megabytes / 1000:.2f} GB from the hub at an assumed {st.hub_mb_s:g} MB/s "
        f"({download:.0f} s), read from disk at {st.disk_mb_s:g} MB/s ({read:.0f} s)",
        "no model.weights_uri",
    )


def image_pull_seconds(cfg: DemoConfig) -> float:
    """The image on a new GPU node (s) the twin assumes: set, else what the render does."""
    st = cfg.twin.startup
    node = st.node_launch_by_type.get(startup_instance_type(cfg), st.node_launch)
    return _image_step(cfg, node).seconds


def model_load_seconds(cfg: DemoConfig) -> float:
    """Container start -> Ready (s) the twin assumes: set, else the sum of the pod's steps."""
    return sum(step.seconds for step in pod_steps(cfg))


def new_node_seconds(cfg: DemoConfig, instance_type: str | None = None) -> float:
    """A pending pod -> a Ready replica on a new node (s): every step summed."""
    return sum(step.seconds for step in startup_steps(cfg, instance_type))


def resolved_startup(cfg: DemoConfig) -> StartupModel:
    """twin.startup with the image pull and model load the render implies filled in."""
    return cfg.twin.startup.model_copy(
        update={"image_pull": image_pull_seconds(cfg), "model_load": model_load_seconds(cfg)}
    )


def startup_case(cfg: DemoConfig) -> str:
    """One line: which start-up case the twin assumes, and why."""
    pull = image_pull_seconds(cfg)
    load = model_load_seconds(cfg)
    snapshot = cfg.gpu_pool.image_snapshot_id
    if _local(cfg):
        return _local_case(cfg, pull, load)
    if cfg.twin.startup.image_pull is not None:
        image = "twin.startup.image_pull"
    elif snapshot == AUTO:
        image = "image on the snapshot `tubedemo prepare` makes; `up` refuses without it"
    elif snapshot:
        image = f"image on snapshot {snapshot}"
    else:
        image = "image pulled per node (no gpu_pool.image_snapshot_id)"
    weights_uri = cfg.model.weights_uri
    if cfg.twin.startup.model_load is not None:
        weights = "twin.startup.model_load"
    elif weights_uri == AUTO:
        weights = (
            "weights streamed from the S3 copy `tubedemo prepare` makes; `up` refuses without it"
        )
    elif weights_uri:
        weights = f"weights streamed from {weights_uri}"
    else:
        weights = "weights downloaded from the hub per pod (no model.weights_uri)"
    return f"start-up: node + {pull:.0f} s image ({image}) + {load:.0f} s to ready ({weights})"


def _local_case(cfg: DemoConfig, pull: float, load: float) -> str:
    image = (
        "twin.startup.image_pull"
        if cfg.twin.startup.image_pull is not None
        else "stand-in image, pulled with the warm replica"
    )
    ready = (
        "twin.startup.model_load"
        if cfg.twin.startup.model_load is not None
        else "CPU stand-in, no weights: its startup and readiness probes"
    )
    return (
        f"start-up (local profile, no Karpenter): the cluster's node + {pull:.0f} s image "
        f"({image}) + {load:.0f} s to ready ({ready})"
    )
