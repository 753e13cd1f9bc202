"""The parameters of the twin's models (tubedemo.twin): the room, the vLLM engine, node and pod
start-up, the HPA controller's settings, the seed."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tubedemo.core.config.fields import Duration, Ramp, Section


class AudienceConfig(Section):
    size: int = Field(150, ge=0)
    """People in the room who will scan the QR code (rehearsal and simulator)."""
    join_at: Duration = 120.0
    """When the audience starts asking (s from talk start)."""
    join_over: Duration = 120.0
    """Over how long the audience's first questions arrive (s)."""
    curve: Literal["uniform", "bell"] = "bell"
    """Shape of first-question times over join_over: flat, or triangular peaking mid-way."""
    questions_per_person: float = Field(1.2, ge=0)
    """Mean questions per person, including the uncounted "ask another" path."""
    ask_again_after: Duration = 20.0
    """Reading time before a person's next question (s), after the previous answer arrived."""


class EngineModel(Section):
    decode_step_base: Duration = 0.0299
    """Decode step time at batch 0 (s): fit of A10G ITL 30.7 ms @1 and 42.7 ms @16 streams."""
    decode_step_per_seq: Duration = 0.0008
    """Extra decode step time per running sequence (s): slope of the same A10G ITL fit."""
    prefill_tokens_per_s: float = Field(5000.0, gt=0)
    """Prompt tokens per second: A10G TTFT 137 ms @~550 tokens less one 30 ms decode step."""
    max_num_batched_tokens: int = Field(2048, ge=16)
    """Token budget of one engine step (chunked prefill): vLLM default for GPUs < 70 GiB."""
    kv_cache_tokens: int | None = Field(None, ge=16)
    """KV-cache capacity (tokens); None derives it from the GPU memory figures below."""
    gpu_memory_gib: float = Field(22.49, gt=0)
    """GPU memory (GiB): an A10G shows 23,028 MiB in nvidia-smi."""
    weights_gib: float = Field(14.99, gt=0)
    """Model weights in GPU memory (GiB): Llama 3.1 8B fp16 as vLLM reports it."""
    runtime_overhead_gib: float = Field(2.8, ge=0)
    """Activations, CUDA graphs, non-torch memory (GiB): 21.6-14.99-3.81 seen on a 24 GB card."""
    kv_bytes_per_token: int = Field(131072, ge=1)
    """KV bytes per token: 32 layers x 8 KV heads x 128 dims x 2 (K,V) x 2 bytes fp16."""
    kv_block_tokens: int = Field(16, ge=1)
    """Tokens per KV block (vLLM's default block size); cache is allocated in whole blocks."""
    prompt_tokens: int = Field(120, ge=1)
    """Mean prompt length incl. system prompt and chat template (tokens)."""
    output_tokens: int = Field(150, ge=1)
    """Mean answer length (tokens); capped by gateway.max_tokens."""
    length_spread: float = Field(0.5, ge=0, lt=1)
    """Prompt and answer lengths vary uniformly by +/- this fraction of their mean."""

    def kv_capacity_tokens(self, gpu_memory_utilization: float) -> int:
        """KV tokens one replica holds: explicit, or (GPU x utilization - weights - overhead)."""
        if self.kv_cache_tokens is not None:
            return self.kv_cache_tokens
        free_gib = (
            self.gpu_memory_gib * gpu_memory_utilization
            - self.weights_gib
            - self.runtime_overhead_gib
        )
        tokens = int(free_gib * 1024**3 // self.kv_bytes_per_token)
        return max(tokens - tokens % self.kv_block_tokens, 0)


class StartupModel(Section):
    node_launch: Duration = 40.0
    """NodeClaim launched -> GPU node Ready (s): 37 s measured (g4dn.2xlarge spot, Bottlerocket),
    "typically 30-40 s" (Karpenter maintainers); GPU types boot slower: the top of the range."""
    node_launch_by_type: dict[str, Duration] = {}
    """Per-instance-type override of node_launch (s); no published per-type figures yet."""
    provisioning_batch: Duration = 1.0
    """Karpenter's BATCH_IDLE_DURATION (s): a batch of pending pods closes after this long
    without a new one (Karpenter's default 1 s)."""
    provisioning_batch_max: Duration = 10.0
    """Karpenter's BATCH_MAX_DURATION (s): a batch closes after this long however many pods
    keep coming (Karpenter's default 10 s)."""
    image_pull: Duration | None = None
    """vLLM image on a new node (s); None follows the render: 0 with gpu_pool.image_snapshot_id
    when the volume is initialized within the boot (volume_initialization_rate), the image read
    lazily otherwise, 270 without a snapshot (4-5 min measured)."""
    model_load: Duration | None = None
    """Container start -> Ready (s); None: the sum of the start-up steps below as the render
    sets them up (`tubedemo simulate` prints each step and its source)."""
    container_start: Duration = 15.0
    """vLLM container start on a GPU node, NVIDIA driver init included (s): ~15 s measured
    (Bottlerocket, g4dn; the original talk's successor, VLLM-OPTIMIZATION.md)."""
    engine_init: Duration = 30.0
    """vLLM's imports, API server, engine-core process, CUDA context and memory profiling (s):
    32 s measured on a g4dn.2xlarge, ~30 s even with a compile cache (vllm#20264), 34 s cached
    on an L40S (Tensorfuse); CPU-bound, one process at a time."""
    s3_stream_mb_s: float = Field(103.0, gt=0)
    """Throughput of one Run:ai streamer S3 stream (MB/s): 16.06 GB in 4.88 s at concurrency 32
    (Run:ai's benchmark, g5.12xlarge); the node's network caps the sum."""
    hub_mb_s: float = Field(100.0, gt=0)
    """Hugging Face hub download rate per pod (MB/s), weights from the hub: an assumption."""
    disk_mb_s: float = Field(500.0, gt=0)
    """Reading downloaded weights from the node's data volume (MB/s): its gp3 throughput."""
    compile_cached: Duration = 8.0
    """torch.compile with the cache restored (s): Dynamo 7.5 s + loading the compiled graphs
    (vllm#20264; Tensorfuse: 10 + 13 s on an L40S)."""
    compile_cold: Duration = 42.0
    """torch.compile without a cache (s): Inductor 42 s for Llama-3.1-8B (Tensorfuse, L40S);
    60 s for a 7B AWQ in the original talk."""
    graph_capture_per_size: Duration = 0.43
    """CUDA-graph capture per batch size (s): 3 s for the 7 sizes 1-32 (the original talk's
    successor); 7 s for 8 sizes cached on an L40S (Tensorfuse)."""
    image_gib: float = Field(10.0, gt=0)
    """The vLLM image on the snapshot's data volume (GiB): 8-10 GB published."""
    helper_image_mib: float = Field(314.0, gt=0)
    """The gateway image (MiB), which the compile cache's helpers in the vLLM pod run from and
    the snapshot does not hold: 329 MB as `buildah images` lists our build (Dec 2026)."""
    lazy_volume_mib_s: float = Field(100.0, gt=0)
    """Reading a snapshot's volume that is not initialized at a provisioned rate (MiB/s): an
    assumption (AWS: the default rate "fluctuates"; blocks come from S3 on first read); the
    floor of the provisioned rates."""
    gpus_per_node: dict[str, int] = {"g5.2xlarge": 1, "g5.4xlarge": 1, "g5.12xlarge": 4}
    """GPUs per instance type (one vLLM replica per GPU)."""
    spot_interruptions: list[Duration] = []
    """Talk offsets (s) at which the oldest spot GPU node gets an interruption notice."""
    spot_notice: Duration = 120.0
    """Spot interruption notice (s): EC2 gives two minutes before reclaiming the instance."""
    disruption_poll: Duration = 10.0
    """Karpenter's disruption loop period when it finds nothing to do (s): the constant
    pollingPeriod of sigs.k8s.io/karpenter pkg/controllers/disruption/controller.go (10 s)."""
    disruption_first_poll: Duration = 0.0
    """Talk second of Karpenter's first disruption pass (s), then every disruption_poll. The
    loop runs from the controller's start, minutes before the talk, so on stage its phase is
    arbitrary (like twin.hpa.first_sync) and moves a consolidation by up to one poll; the
    twin-vs-lab ensemble spreads it."""
    consolidation_validation: Duration = 15.0
    """Karpenter's wait between choosing empty nodes and deleting them (s): the constant
    commandValidationDelay of pkg/controllers/disruption/consolidation.go (15 s)."""
    pod_event_dedupe: Duration = 10.0
    """A NodeClaim's lastPodEventTime (which consolidateAfter counts from) is not moved again
    within this long (s): dedupeTimeout of pkg/controllers/nodeclaim/podevents (10 s)."""


class HpaControllerConfig(Section):
    sync_period: Duration = 15.0
    """HPA resync (s): kube-controller-manager --horizontal-pod-autoscaler-sync-period default."""
    first_sync: Duration | None = Field(None, ge=0)
    """Talk second of the HPA's first sync (s); None: one sync_period in. The controller syncs
    every sync_period from when the HPA was created, minutes before the talk, so on stage this
    phase is arbitrary: it moves every scale-up by up to one period (`--sweep` it)."""
    tolerance: float = Field(0.1, ge=0, lt=1)
    """Ratio band with no change (fraction): --horizontal-pod-autoscaler-tolerance default."""
    scale_up_tolerance: float | None = Field(None, ge=0)
    """Per-HPA spec.behavior.scaleUp.tolerance (fraction); None: the controller's tolerance.
    Needs the HPAConfigurableTolerance gate (alpha in 1.33/1.34, off on EKS): what-ifs only."""
    scale_down_tolerance: float | None = Field(None, ge=0, le=1)
    """Per-HPA spec.behavior.scaleDown.tolerance (fraction); None: the controller's tolerance."""
    metric_outages: list[Ramp] = []
    """[from, to] talk offsets (s) when KEDA cannot read the metric (scaler down): the HPA
    holds, then KEDA's fallback applies after scaling.fallback.failure_threshold failures."""


class TwinConfig(Section):
    seed: int = 42
    """Seed of every random choice in the rehearsal and simulator (same seed, same run)."""
    engine: EngineModel = EngineModel()
    """vLLM engine timing model (continuous batching on one A10G)."""
    startup: StartupModel = StartupModel()
    """Node and pod start-up delays."""
    audience: AudienceConfig = AudienceConfig()
    """The people in the room."""
    hpa: HpaControllerConfig = HpaControllerConfig()
    """Kubernetes HPA controller settings the cluster runs with (not part of the ScaledObject)."""
    tail: Duration = 600.0
    """Time simulated after the talk ends (s), so scale-down and consolidation show."""
