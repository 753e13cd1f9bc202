"""DemoConfig: every section of demo.yaml in one model, the rules that span sections, and the
values derived from several of them (exposure, https, bucket, snapshot, weights location,
deadline, roles)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import model_validator

from tubedemo.core.capacity import NETWORK_GBPS
from tubedemo.core.config.dashboard_settings import DashboardConfig, PriceTable
from tubedemo.core.config.deployment import (
    ClusterConfig,
    GatewayConfig,
    GpuPoolConfig,
    LocalProfileConfig,
    ModelConfig,
    OtelConfig,
    PrerequisitesConfig,
    StorageConfig,
    WebConfig,
)
from tubedemo.core.config.fields import AUTO, Profile, Section
from tubedemo.core.config.scaling import ScalingConfig
from tubedemo.core.config.talk_plan import K6Config, TalkConfig, TimelineConfig
from tubedemo.core.config.twin_models import TwinConfig
from tubedemo.core.durations import format_duration

ACCOUNT_PLACEHOLDER = "${AWS_ACCOUNT_ID}"
"""Stands for the account id in an offline render; `up` always renders with the real one."""

DEADLINE_PLACEHOLDER = "${GPU_DEADLINE}"
"""Stands for the GPU deadline in an offline render without talk.ends_at; `up` renders the
real time (its own + talk.duration + talk.gpu_grace)."""

SNAPSHOT_PLACEHOLDER = "${PREPARED_IMAGE_SNAPSHOT}"
"""Stands for the snapshot `tubedemo prepare` made (image_snapshot_id: auto) in an offline
render; `up` renders the real snap-... id or refuses."""


class DemoConfig(Section):
    """Everything tubedemo needs to run a talk, from one demo.yaml."""

    profile: Profile = "eks"
    """eks: GPUs, Karpenter, KEDA + Kedify OTEL scaler. local: kind/k3d with a CPU stand-in."""
    talk: TalkConfig = TalkConfig()
    """The talk itself."""
    cluster: ClusterConfig = ClusterConfig()
    """Where it runs."""
    model: ModelConfig = ModelConfig()
    """The LLM and vLLM's serving flags."""
    gpu_pool: GpuPoolConfig = GpuPoolConfig()
    """Karpenter NodePool + EC2NodeClass for the GPU spot nodes."""
    scaling: ScalingConfig = ScalingConfig()
    """KEDA ScaledObject, HPA behaviour and the OTel scrape."""
    gateway: GatewayConfig = GatewayConfig()
    """The FastAPI gateway the phones talk to."""
    storage: StorageConfig = StorageConfig()
    """Survey answers, questions and winners."""
    web: WebConfig = WebConfig()
    """The audience page's public entry."""
    otel: OtelConfig = OtelConfig()
    """OpenTelemetry Collector."""
    local: LocalProfileConfig = LocalProfileConfig()
    """Settings only the local profile uses."""
    k6: K6Config = K6Config()
    """The laptop's load generator."""
    timeline: TimelineConfig = TimelineConfig()
    """The talk's load phases, mode flips and cues."""
    twin: TwinConfig = TwinConfig()
    """Models behind the rehearsal and the simulator."""
    prices: PriceTable = PriceTable()
    """Node prices for the cost figures."""
    dashboard: DashboardConfig = DashboardConfig()
    """The live terminal dashboard."""
    prerequisites: PrerequisitesConfig = PrerequisitesConfig()
    """Where `tubedemo preflight` finds the cluster add-ons."""

    @property
    def exposure(self) -> Literal["ingress", "loadbalancer", "none"]:
        """How phones reach the gateway: the configured choice, else ingress on EKS."""
        if self.web.exposure is not None:
            return self.web.exposure
        return "ingress" if self.profile == "eks" else "none"

    @property
    def audience_https(self) -> Literal["cloudfront", "certificate", "off"]:
        """How the audience gets https: the configured choice, else a certificate when the
        ALB has one, else CloudFront; off where no phone reaches the page (exposure none)."""
        if self.exposure == "none":
            return "off"
        if self.web.https is not None:
            return self.web.https
        return "certificate" if self.web.ingress.certificate_arn else "cloudfront"

    @property
    def gateway_storage_class(self) -> str | None:
        """StorageClass of the gateway's PVC: configured, gp3 on EKS, else the default class."""
        if self.storage.storage_class is not None:
            return self.storage.storage_class
        return "gp3" if self.profile == "eks" else None

    @property
    def renders_storage_class(self) -> bool:
        """The render creates the gateway volume's StorageClass (eks only): asked, or by
        default when the class is tubedemo's own gp3."""
        if self.profile != "eks" or self.gateway_storage_class is None:
            return False
        create = self.storage.create_storage_class
        return create if create is not None else self.storage.storage_class is None

    @property
    def account(self) -> str:
        """The AWS account id, or a visible placeholder in an offline render."""
        return self.cluster.account_id or ACCOUNT_PLACEHOLDER

    @property
    def s3_bucket(self) -> str:
        """The survey bucket: configured, else tubedemo-<account>-<region> (unique per account)."""
        return self.storage.s3_bucket or f"tubedemo-{self.account}-{self.cluster.region}"

    @property
    def snapshot_is_auto(self) -> bool:
        """image_snapshot_id: auto on the eks profile (`up` must resolve it)."""
        return self.profile == "eks" and self.gpu_pool.image_snapshot_id == AUTO

    @property
    def weights_are_auto(self) -> bool:
        """model.weights_uri: auto on the eks profile (`up` must check the prepared copy)."""
        return self.profile == "eks" and self.model.weights_uri == AUTO

    @property
    def image_snapshot(self) -> str | None:
        """The snapshot the EC2NodeClass names: explicit, a placeholder for an unresolved auto
        (offline render), None when cold."""
        snap = self.gpu_pool.image_snapshot_id
        if not snap or self.profile != "eks":
            return None
        return SNAPSHOT_PLACEHOLDER if snap == AUTO else snap

    def with_prepared(self, snapshot_id: str | None, weights_uri: str | None) -> DemoConfig:
        """This config with auto replaced by what was found (`up` and `preflight`)."""
        pool = self.gpu_pool.model_copy(update={"image_snapshot_id": snapshot_id})
        model = self.model.model_copy(update={"weights_uri": weights_uri})
        return self.model_copy(update={"gpu_pool": pool, "model": model})

    @property
    def streamer_concurrency(self) -> int:
        """Run:ai streamer threads: model.streamer_concurrency, else enough S3 streams
        (twin.startup.s3_stream_mb_s each) to fill the fastest network among the pool's types
        (one pod spec runs on all of them; a thread more than a NIC needs costs one 8 MiB
        chunk of buffer), never fewer than the streamer's own default of 8."""
        if self.model.streamer_concurrency is not None:
            return self.model.streamer_concurrency
        fastest = max(
            (NETWORK_GBPS.get(t, 10.0) for t in self.gpu_pool.instance_types), default=10.0
        )
        return max(8, math.ceil(fastest * 1000 / 8 / self.twin.startup.s3_stream_mb_s))

    @property
    def interruption_queue(self) -> str:
        """Karpenter's interruption queue: configured, else named after the cluster."""
        return self.gpu_pool.interruption_queue or self.cluster.name

    @property
    def talk_ends_at(self) -> datetime | None:
        """UTC end of the talk: talk.ends_at, else the window's start + duration, else None
        (unknown until `up` or `show` sets it)."""
        talk = self.talk
        end = talk.ends_at
        if end is None and talk.window_start is not None:
            end = talk.window_start + timedelta(seconds=talk.duration)
        if end is None:
            return None
        return end.astimezone(UTC) if end.tzinfo else end.replace(tzinfo=UTC)

    @property
    def gpu_deadline(self) -> datetime | None:
        """When the cluster removes the GPUs by itself: the talk's end + talk.gpu_grace (UTC)."""
        end = self.talk_ends_at
        return None if end is None else end + timedelta(seconds=self.talk.gpu_grace)

    def with_talk_from(self, start: datetime) -> DemoConfig:
        """This config with the talk ending talk.duration after ``start`` when nothing else
        says when it ends (`up` on the eks profile; the deadline then counts from it)."""
        if self.talk_ends_at is not None:
            return self
        end = start + timedelta(seconds=self.talk.duration)
        return self.model_copy(update={"talk": self.talk.model_copy(update={"ends_at": end})})

    def role_arn(self, role: str) -> str:
        """ARN of an IAM role of this account (the gateway's or vLLM's IRSA role)."""
        return f"arn:aws:iam::{self.account}:role/{role}"

    def with_account(self, account_id: str) -> DemoConfig:
        """This config with the account id STS reported (when demo.yaml leaves it unset)."""
        if self.cluster.account_id:
            return self
        cluster = self.cluster.model_copy(update={"account_id": account_id})
        return self.model_copy(update={"cluster": cluster})

    @model_validator(mode="before")
    @classmethod
    def _cold_on_local(cls, data: Any) -> Any:
        """The local profile renders neither a snapshot nor S3 weights: unset, they are empty
        (cold) there, so the local twin and render stay as they were; auto is eks's default."""
        if not isinstance(data, dict) or data.get("profile") != "local":
            return data
        data = dict(data)
        for section, field in (("gpu_pool", "image_snapshot_id"), ("model", "weights_uri")):
            given = data.get(section)
            if isinstance(given, dict):
                if field not in given:
                    data[section] = {**given, field: ""}
            elif given is None:
                data[section] = {field: ""}
        return data

    @model_validator(mode="after")
    def _timeline_fits_talk(self) -> DemoConfig:
        for phase in self.timeline.phases:
            if phase.end > self.talk.duration:
                raise ValueError(
                    f"timeline phase {phase.name!r} ends at {format_duration(phase.end)}, after "
                    f"the talk ends at {format_duration(self.talk.duration)}; shorten it or raise "
                    "talk.duration"
                )
        if self.scaling.max_replicas > self.gpu_pool.gpu_limit and self.profile == "eks":
            raise ValueError(
                f"scaling.max_replicas ({self.scaling.max_replicas}) needs more GPUs than "
                f"gpu_pool.gpu_limit ({self.gpu_pool.gpu_limit}); raise the limit or lower max"
            )
        warm = self.scaling.warm_capacity
        if warm.replicas and self.profile != "eks":
            raise ValueError(
                "scaling.warm_capacity keeps GPU nodes Ready: the local profile has no GPU "
                "nodes; set replicas 0 or use profile eks"
            )
        names = [phase.name for phase in self.timeline.phases]
        if warm.until is not None and warm.until not in names:
            raise ValueError(
                f"scaling.warm_capacity.until {warm.until!r} is not a timeline phase "
                f"({', '.join(names)})"
            )
        return self

    @property
    def max_streams(self) -> int:
        """Streams the fleet can serve at full scale (max replicas x slots per replica): the
        gateway's cap on streams in flight."""
        return self.scaling.max_replicas * self.model.max_num_seqs

    def fair_share_env(self) -> dict[str, str]:
        """The gateway's fair-share settings as its TUBEDEMO_* environment (render, rehearse)."""
        f = self.gateway.fair_share
        room = f.room_size or self.twin.audience.size or 1
        # the gateway's default (gateway.limits.room_burst), written out so the manifest says it
        burst = f.identity_burst or math.ceil(room * 1.1)
        return {
            "TUBEDEMO_MAX_STREAMS": str(self.max_streams),
            "TUBEDEMO_ROOM_SIZE": str(room),
            "TUBEDEMO_ADDRESS_SHARE_FLOOR": f"{f.address_floor:g}",
            "TUBEDEMO_IDENTITY_BURST": str(burst),
            "TUBEDEMO_IDENTITY_PER_MIN": str(f.identities_per_minute),
            "TUBEDEMO_ENTRIES_PER_ADDRESS": str(f.entries_per_address),
            "TUBEDEMO_STREAM_QUEUE_TIMEOUT_S": f"{f.queue_timeout:g}",
        }

    def trusted_proxies(self) -> list[str]:
        """CIDRs the gateway believes X-Forwarded-For from: explicit, or derived from profile."""
        if self.gateway.trusted_proxies is not None:
            return list(self.gateway.trusted_proxies)
        loopback = ["127.0.0.1/32", "::1/128"]
        return [self.cluster.vpc_cidr, *loopback] if self.profile == "eks" else loopback
