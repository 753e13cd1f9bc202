"""What `up` deploys and where: the cluster, the model and vLLM, the GPU pool, the gateway, its
storage and public entry, the collector, the local profile's stand-in, and where preflight finds
the add-ons."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from tubedemo.core.config.fields import AUTO, AccountId, Duration, Section, cidr
from tubedemo.core.vllm_release import VLLM_IMAGE


class ClusterConfig(Section):
    name: str = "tubedemo"
    """EKS cluster name; Karpenter discovers subnets and security groups tagged with it."""
    region: str = "us-west-2"
    """AWS region of the cluster and the S3 bucket."""
    context: str | None = None
    """kubeconfig context to use; None means the current context."""
    namespace: str = "tubedemo"
    """Namespace that holds every tubedemo object."""
    vpc_cidr: str = "192.168.0.0/16"
    """The cluster VPC's address range (CIDR; eksctl's default); the load balancer reaches the
    gateway from inside it, so its X-Forwarded-For is believed (gateway.trusted_proxies)."""
    account_id: AccountId | None = None
    """12-digit AWS account id (quoted or not); None: `up`, `diff` and `preflight` ask STS
    (it names the bucket and the IAM roles)."""

    @field_validator("vpc_cidr")
    @classmethod
    def _vpc_is_cidr(cls, v: str) -> str:
        return cidr(v)


class ModelConfig(Section):
    name: str = "meta-llama/Llama-3.1-8B-Instruct"
    """Hugging Face model id that vLLM loads."""
    served_name: str = "llama-3.1-8b"
    """Model name the OpenAI API exposes; also the `model_name` label of vLLM's metrics."""
    # The release and why that one: tubedemo/core/vllm_release.py, which scripts/build-vllm-env
    # reads too (it installs the same wheel, so the tests parse the rendered args with it).
    image: str = VLLM_IMAGE
    """vLLM container image, pinned: a surprise upgrade on stage is not a demo."""
    max_model_len: int = Field(8192, ge=512, le=131072)
    """Context cap (tokens); Llama 3.1 8B on a 24 GB A10G needs it well below 131072."""
    gpu_memory_utilization: float = Field(0.90, gt=0.1, le=0.98)
    """Fraction of GPU memory vLLM may take (weights + KV cache)."""
    max_num_seqs: int = Field(32, ge=1, le=1024)
    """Concurrent sequences per replica: room for the burst while new replicas cold-start (32
    mean answers use ~9k of the A10G's ~20k KV-cache tokens); README: tuned with the sweep."""
    revision: str = Field("main", pattern=r"^[A-Za-z0-9._-]+$")
    """Hub revision (branch, tag or commit) `tubedemo prepare` copies; names the S3 key of the
    prepared weights, so a new revision is a new copy rather than a silent overwrite."""
    hf_token_secret: str = "hf-token"
    """Secret (key `token`) with the Hugging Face token; only used when weights come from the
    hub (weights_uri empty)."""
    weights_uri: str | None = Field(AUTO, pattern=r"^(auto|s3://[^/]+/.*)?$")
    """Where vLLM's Run:ai streamer reads the weights (safetensors, config, tokenizer) straight
    into GPU memory: auto (the copy `tubedemo prepare` put in the per-account bucket, ~100 s to
    Ready; `up` refuses until it exists), s3://bucket/prefix, or empty: each pod downloads
    ~16 GB from the hub (~260 s). Default auto on eks, empty on local."""
    iam_role: str = "tubedemo-vllm"
    """IAM role (IRSA) of vLLM's ServiceAccount, read access to the weights; used with S3 only."""
    shutdown_timeout: Duration = 30.0
    """vLLM --shutdown-timeout (s): in-flight requests finish instead of being aborted."""
    prestop_sleep: Duration = 10.0
    """preStop sleep (s) so endpoints drop the pod before vLLM stops accepting."""
    startup_timeout: Duration = 1200.0
    """Longest cold start tolerated (s) before the startupProbe restarts the pod."""
    probe_timeout: Duration = Field(5.0, ge=1, le=60)
    """timeoutSeconds of vLLM's probes (s): a replica saturated at the peak answers /health
    and /v1/models late; the default 1 s took it out of the Service (readiness: 6 misses, 5 s
    apart) and would restart it (liveness: 6 misses, 10 s apart) with answers in flight."""
    cpu: str = "4"
    """CPU request per vLLM pod; fits four pods on a g5.12xlarge."""
    memory: str = "24Gi"
    """Memory request and limit per vLLM pod."""
    shm_size: str = "4Gi"
    """Size of the in-memory /dev/shm volume vLLM uses for IPC."""
    port: int = Field(8000, ge=1, le=65535)
    """vLLM's HTTP port (OpenAI API and /metrics)."""
    extra_args: list[str] = []
    """Extra vLLM command-line arguments, appended verbatim."""
    cudagraph_capture_sizes: list[Annotated[int, Field(ge=1)]] | None = Field(None, min_length=1)
    """Batch sizes vLLM captures CUDA graphs for (--cudagraph-capture-sizes); None: 1, 2, 4,
    then every 8 up to max_num_seqs. A decode batch never exceeds max_num_seqs, so a larger
    graph only costs start-up (~0.4 s each); vLLM's own default goes to 2 x max_num_seqs."""
    streamer_concurrency: int | None = Field(None, ge=1, le=256)
    """Run:ai streamer threads reading the weights from S3 at once (--model-loader-extra-config
    concurrency); None: enough ~100 MB/s S3 streams to fill the fastest network of
    gpu_pool.instance_types (the streamer's own default, 8, fills ~0.8 GB/s)."""
    streamer_memory_gib: int = Field(8, ge=1)
    """CPU buffer the Run:ai streamer may fill (GiB; memory_limit): its default, 40 GB, is more
    than the pod's memory limit; 8 GiB holds every stream's chunks many times over."""
    compile_cache: bool = False
    """Keep vLLM's torch.compile cache in the per-account bucket beside the prepared weights
    (eks, weights from S3): a new replica loads the compiled graphs (~8 s) instead of compiling
    them (~42 s); the first replica of a configuration (the warm one, at `up`) fills it. Off
    by default until a GPU run has shown vLLM loading the pulled cache (its log says which:
    "Directly load the compiled graph(s) ... from the cache" or "Compiling a graph ...")."""
    startup_probe_period: Duration = Field(2.0, ge=1, le=10)
    """periodSeconds of vLLM's startupProbe (s): Ready is seen on average half a period after
    the model answers (the kubelet probes readiness at once when startup succeeds)."""

    @property
    def graph_sizes(self) -> list[int]:
        """The CUDA-graph capture sizes rendered: configured, else 1, 2, 4, then every 8 up to
        max_num_seqs (7 sizes at 32 slots, against vLLM's 11 up to 64)."""
        if self.cudagraph_capture_sizes is not None:
            return sorted(set(self.cudagraph_capture_sizes))
        top = self.max_num_seqs
        return [*(s for s in (1, 2, 4) if s < top), *range(8, top, 8), top]


class GpuPoolConfig(Section):
    name: str = "tubedemo-gpu"
    """Karpenter NodePool (and EC2NodeClass) name; teardown waits for its nodes to go."""
    instance_types: list[str] = ["g5.2xlarge", "g5.4xlarge", "g5.12xlarge"]
    """EC2 instance types to launch; several sizes diversify spot capacity."""
    capacity_types: list[Literal["spot", "on-demand"]] = ["spot", "on-demand"]
    """Karpenter capacity types. With both, Karpenter launches spot (~60-70 % cheaper) whenever
    EC2 has a spot offering of an allowed type in a tagged zone (karpenter-provider-aws
    getCapacityType) and on-demand only when none has: no spot g5 at `up` time no longer
    leaves the talk without its warm replica. [spot]: spot or nothing."""
    gpu_limit: int = Field(10, ge=1)
    """Most GPUs the pool may hold (nvidia.com/gpu); caps the bill if scaling runs away."""
    cpu_limit: int = Field(480, ge=1)
    """Most vCPUs the pool may hold."""
    consolidation_policy: Literal["WhenEmpty", "WhenEmptyOrUnderutilized"] = (
        "WhenEmptyOrUnderutilized"
    )
    """What Karpenter may consolidate once disruption is allowed."""
    consolidate_after: Duration = 30.0
    """How long a node must be empty/underutilized before consolidation (s)."""
    ami_alias: str = "bottlerocket@v1.66.0"
    """EC2NodeClass AMI alias: Bottlerocket's NVIDIA variant for the cluster's Kubernetes minor
    (v1.66.0: newest release checked, variants for Kubernetes 1.31-1.37)."""
    node_role: str = "KarpenterNodeRole-tubedemo"
    """IAM role name for the GPU nodes (needs an EKS access entry of type EC2_LINUX)."""
    data_volume: str = "120Gi"
    """Bottlerocket data volume; holds the ~10 GB vLLM image (and the snapshot's contents)."""
    volume_initialization_rate: int | None = Field(300, ge=100, le=300)
    """MiB/s at which EBS initializes the data volume from the snapshot (EC2NodeClass
    volumeInitializationRate, Provisioned Rate for Volume Initialization, 100-300): the ~10 GiB
    image is on disk in ~34 s, inside the node's boot; None: blocks are read lazily from S3 on
    first access ("increased I/O latency", no published rate). Rendered only with a snapshot."""
    image_snapshot_id: str | None = Field(AUTO, pattern=r"^(auto|snap-[0-9a-f]+)?$")
    """EBS snapshot of a Bottlerocket data volume with model.image pulled, so a new GPU node
    starts with the ~10 GB image in place (0 s instead of a 4-5 min pull): auto (the snapshot
    `tubedemo prepare` made for exactly model.image, found by its tags; `up` refuses until it
    exists), snap-..., or empty: pull per node. Default auto on eks, empty on local."""
    snapshot_builder_type: str = "m6i.xlarge"
    """EC2 instance type `tubedemo prepare` pulls model.image on for the snapshot (x86_64 like
    the g5 nodes; 4 vCPUs unpack the ~10 GB image in minutes; ~$0.19/h for ~15 min)."""
    interruption_queue: str | None = None
    """SQS queue Karpenter reads spot interruption notices from; None: the cluster name."""
    taint: bool = True
    """Taint GPU nodes with nvidia.com/gpu:NoSchedule so only vLLM lands there."""


class RateLimits(Section):
    chat_per_minute: int = Field(6, ge=1)
    """Chat requests per phone identity per minute (token bucket refill)."""
    chat_burst: int = Field(3, ge=1)
    """Chat requests a phone may send back to back."""
    survey_per_minute: int = Field(10, ge=1)
    """Survey submits per phone identity per minute."""
    address_per_minute: int = Field(3000, ge=1)
    """Ceiling per source address; generous because a venue's phones share one address."""


class FairShare(Section):
    room_size: int | None = Field(None, ge=1)
    """People expected in the room (count); None: twin.audience.size. An address may hold the
    share of the fleet and of the raffle the rest of the room leaves it, so a venue NAT with
    the whole room behind it keeps working and a laptop on its own address does not."""
    address_floor: float = Field(0.1, gt=0, le=1)
    """Fraction of the fleet's stream slots any one address may always hold (a laptop's bound
    while the room is on its own addresses)."""
    identity_burst: int | None = Field(None, ge=1)
    """Phone identities one address may obtain at once; None: the room plus 10 % (165 for
    150): a venue NAT's room opening the page, and every identity beyond it one that a script
    behind the same NAT can take (the gateway's own default, `gateway.limits.room_burst`)."""
    identities_per_minute: int = Field(30, ge=1)
    """Identities per address per minute after the burst (reloads, late arrivals)."""
    entries_per_address: int = Field(300, ge=1)
    """Survey entries accepted from one address per talk session (a venue NAT); the draw then
    keeps each address's room share."""
    queue_timeout: Duration = Field(60.0, ge=1)
    """Longest a question waits for a free slot once the fleet's slots are taken (s), then 503."""


class GatewayConfig(Section):
    image: str | None = None
    """Gateway image (FastAPI + the built page) from gateway/Dockerfile; `tubedemo images push
    --write` sets it (digest-pinned); unset, `up` refuses and render shows a placeholder."""
    port: int = Field(8080, ge=1, le=65535)
    """Gateway HTTP port (the audience's: the public Service, the ALB, the NLB)."""
    internal_port: int = Field(8081, ge=1, le=65535)
    """Gateway port for /api/admin/*, /metrics, /readyz and /openapi.json, which `port` answers
    404 for: only the ClusterIP Service gateway-internal exposes it (the CLI reaches it through
    the API server), so no exposure mode publishes them, an NLB (L4, every path) included."""
    system_prompt: str = (
        "You are a cheeky London Underground expert. Answer in under 100 words, "
        "with a bit of British slang, and stay on the topic of the Tube."
    )
    """Quiz-mode system prompt; the audience cannot override it."""
    max_tokens: int = Field(200, ge=1, le=4096)
    """Cap on generated tokens per quiz answer."""
    max_prompt_chars: int = Field(300, ge=1)
    """Longest audience question accepted (characters)."""
    questions_per_person: int = Field(1, ge=1)
    """Counted questions per phone per talk session."""
    answer_timeout: Duration = Field(120.0, ge=1, le=3600)
    """Longest one answer may take end to end (s), one figure for every hop: the ALB's idle
    timeout, the gateway's upstream read timeout, k6's request timeout and the phones'
    patience in the twin (a queued question at the peak waits this long, not 60 s)."""
    stream_keepalive: Duration = Field(15.0, ge=1, le=3600)
    """Longest a streamed question goes without a byte (s): past it the gateway sends the
    answer's 200 and an SSE comment, again every such interval until the first token, because
    CloudFront drops an origin silent for 60 s (504) while the answer may take answer_timeout."""
    rate_limits: RateLimits = RateLimits()
    """Abuse limits; see each field."""
    fair_share: FairShare = FairShare()
    """Who gets the fleet when a room turns hostile: identities, stream shares, raffle shares
    (README, "A hostile room")."""
    admin_token_secret: str = "tubedemo-admin"
    """Secret (key `token`) holding the admin bearer token for mode, draw and export."""
    url: str | None = None
    """Gateway base URL the CLI's admin commands call directly (a rehearsal's local gateway);
    None: in the cluster, through the API server's service proxy (no public address needed)."""
    trusted_proxies: list[str] | None = None
    """CIDRs whose X-Forwarded-For is believed (the load balancer's addresses); None: on EKS
    cluster.vpc_cidr plus loopback, locally loopback only. Never list the phones' networks."""

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_cidrs(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else [cidr(c) for c in v]

    cors_origin: str | None = None
    """Allowed CORS origin; None means same-origin only (the page is served by the gateway)."""


class StorageConfig(Section):
    kind: Literal["s3", "local"] = "s3"
    """Where survey answers live: S3 (cluster) or a local directory (rehearsal)."""
    s3_bucket: str | None = None
    """S3 bucket for survey answers, questions and winners; None: tubedemo-<account>-<region>
    (bucket names are global: the account id keeps the default unique)."""
    create_bucket: bool = False
    """`up` creates the bucket (versioned, public access blocked) when it does not exist."""
    s3_prefix: str = "tubedemo/"
    """Key prefix inside the bucket."""
    iam_role: str = "tubedemo-gateway"
    """IAM role (IRSA) the gateway's ServiceAccount assumes; `tubedemo policy gateway` prints
    its permissions and trust policy."""
    storage_class: str | None = None
    """StorageClass of the gateway's volume; None: gp3 (EBS CSI) on eks, the default on local."""
    create_storage_class: bool | None = None
    """Render the volume's StorageClass (EBS CSI gp3, encrypted, WaitForFirstConsumer) on eks,
    as EKS 1.30+ has no default class; None: when storage_class is unset (tubedemo's gp3), not
    for a class of yours; false: never."""
    local_dir: str = "./tubedemo-data"
    """Directory for the local store (rehearsal); each answer is fsynced before it is acked."""
    volume_size: str = "1Gi"
    """Gateway volume: the local store, or the S3 spool that keeps acked answers in an outage."""


class IngressConfig(Section):
    class_name: str = "alb"
    """IngressClass."""
    host: str | None = None
    """Host name routed to the gateway; None accepts any host."""
    scheme: Literal["internet-facing", "internal"] = "internet-facing"
    """ALB scheme."""
    certificate_arn: str | None = None
    """ACM certificate for HTTPS; None serves plain HTTP."""
    hosted_zone: str | None = None
    """Route 53 hosted zone (its name, e.g. talks.example.com) that holds ``host``: `cluster
    create` requests an ACM certificate for ``host`` there with DNS validation and waits until
    it is issued (set certificate_arn to the ARN it prints); None: no certificate is made."""


class WebConfig(Section):
    exposure: Literal["ingress", "loadbalancer", "none"] | None = None
    """How phones reach the page: ALB Ingress, a LoadBalancer Service (NLB), or not at all
    (port-forward); None: ingress on eks, none on local."""
    ingress: IngressConfig = IngressConfig()
    """The ALB Ingress (exposure ingress); the gateway serves the built page itself."""
    load_balancer_scheme: Literal["internet-facing", "internal"] = "internet-facing"
    """NLB scheme of the LoadBalancer Service (exposure loadbalancer)."""
    https: Literal["cloudfront", "certificate", "off"] | None = None
    """How phones get https:// (browsers warn on public plain http): cloudfront (`up` puts a
    CloudFront name in front of the load balancer, no domain needed), certificate
    (web.ingress.certificate_arn on the ALB), or off (plain http, said explicitly; preflight
    refuses plain http otherwise); None: certificate when certificate_arn is set, else
    cloudfront."""


class OtelConfig(Section):
    # 0.161.0: the newest release whose modules the Go module proxy serves whole; the tests
    # build this same release with the collector's builder from tools/otelcol/manifest.yaml
    # (which says why not 0.165) and run its `validate` and the config itself.
    collector_image: str = "otel/opentelemetry-collector-contrib:0.161.0"
    """OpenTelemetry Collector (contrib: Prometheus receiver + transform processor), pinned."""
    replicas: int = Field(2, ge=1)
    """Collector replicas, each scraping every vLLM pod (the scaler keys a series by its pod, so
    they do not add up): losing one collector (node drain, OOM) loses no metric."""
    first_export_timeout: Duration = Field(120.0, ge=0)
    """Seconds `up` (eks) waits, once the collectors are Ready, for each one's first export to
    the scaler before it applies the ScaledObject (earlier, KEDA would hold fallback.replicas
    and Karpenter start a GPU node); 0: no wait, e.g. when the API server cannot proxy to pods."""


class LocalProfileConfig(Section):
    vllm_stand_in_image: str | None = None
    """vLLM stand-in image (one simulated replica per pod) from images/standin.Dockerfile;
    `tubedemo images push --write` sets it; unset, `up` refuses and render shows a placeholder."""


class PrerequisitesConfig(Section):
    """Where preflight looks for the cluster add-ons tubedemo needs (their Helm namespaces)."""

    keda_namespace: str = "keda"
    """Namespace of Kedify's KEDA (keda-operator Deployment)."""
    karpenter_namespace: str = "kube-system"
    """Namespace of the Karpenter controller (Karpenter's getting-started installs it here)."""
    load_balancer_controller_namespace: str = "kube-system"
    """Namespace of the AWS Load Balancer Controller."""
    ebs_csi_namespace: str = "kube-system"
    """Namespace of the EBS CSI driver's controller (the EKS add-on installs it here)."""
    vpc_cni_namespace: str = "kube-system"
    """Namespace of the VPC CNI's aws-node DaemonSet, whose network policy agent must enforce
    the rendered NetworkPolicy (the EKS add-on installs it here)."""
    aws_checks: bool = True
    """Check the AWS account (IAM, SQS, S3, Service Quotas) through boto3; off only for a
    cluster that is not on AWS (the checks are then reported as skipped)."""
