"""Gateway settings: one typed model, filled from the environment and overridden by flags."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

Mode = Literal["quiz", "survey"]

# Allowed only with TUBEDEMO_LOCAL=1 (rehearsal on a laptop); the CLI uses it to drive a local run.
LOCAL_ADMIN_TOKEN = "tubedemo-local"

DEFAULT_SYSTEM_PROMPT = (
    "You are a cheeky London Underground expert. Answer the question in under 100 words, "
    "with a little British slang. If the question is not about the Tube, steer it back to the Tube."
)


class SettingsError(Exception):
    """The gateway cannot start with these settings; the message names the setting and the fix."""


class GatewaySettings(BaseModel):
    """Everything `python -m gateway` needs; env vars in the README, flags override them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    """Address to bind; loopback by default so a laptop run is not exposed to the venue Wi-Fi."""
    port: int = Field(8080, ge=0, le=65535)
    """TCP port to listen on (0 picks a free one)."""
    internal_port: int | None = Field(None, ge=0, le=65535)
    """A second port for what is not the audience's (/api/admin/*, /metrics, /readyz,
    /openapi.json), which `port` then answers 404 for; it serves every path. None: `port`
    serves everything (a laptop). In the cluster only the public Service omits it, so no
    exposure mode, an NLB included, publishes those paths (0 picks a free port)."""
    upstream: str = "http://127.0.0.1:8000"
    """Base URL of the OpenAI-compatible model server (vLLM or the fleet simulator), no /v1."""
    upstream_client: Literal["httpx", "aiohttp"] = "aiohttp"
    """HTTP client library for the upstream; aiohttp won the benchmark (docs/benchmarks.md)."""
    upstream_connect_timeout_s: float = Field(3.0, gt=0)
    """Seconds to open a connection to the upstream before answering 503."""
    upstream_read_timeout_s: float = Field(60.0, gt=0)
    """Seconds of upstream silence (before headers or between chunks) before 504 / error event."""
    stream_keepalive_s: float = Field(15.0, gt=0)
    """Seconds a streamed question may go without a token before the gateway commits the
    stream (200 + SSE headers) and sends an SSE comment `: keep-alive`, then again every such
    interval until the first token: CloudFront gives up on an origin silent for 60 s (504)."""
    upstream_max_connections: int = Field(1024, ge=1)
    """Size of the one pooled upstream client; above the page's peak concurrency."""
    upstream_api_key: str = ""
    """The model server's API key (vLLM's VLLM_API_KEY, from the same Secret), sent as a
    bearer token upstream; empty sends none. With it, a pod that reaches vLLM past the
    NetworkPolicy still cannot skip the system prompt, max_tokens and the fair share."""
    store: Path | None = None
    """Local store directory (the embedded default); ignored when s3_bucket is set."""
    s3_bucket: str | None = None
    """S3 bucket for survey data (EKS); submissions spool locally while S3 is unreachable."""
    s3_prefix: str = "tubedemo"
    """Key prefix inside the bucket, so one bucket can hold several demos."""
    spool_dir: Path | None = None
    """Local directory for the S3 spool; defaults to a temp dir beside the process."""
    mode: Mode | None = None
    """Audience mode at start; None keeps the stored mode (or quiz). The ConfigMap wins later."""
    mode_configmap: str | None = None
    """'namespace/name' of the mode ConfigMap to watch through the in-cluster API."""
    kube_api: str | None = None
    """Kubernetes API base URL; defaults to https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT."""
    kube_token_file: Path = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
    """Service-account token, re-read on every (re)connect because kubelet rotates it."""
    kube_ca_file: Path | None = Path("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt")
    """CA bundle of the API server; None disables verification (tests only)."""
    admin_token: str = ""
    """Bearer token for /api/admin/*; must be set (not the local default) outside local mode."""
    local: bool = False
    """Rehearsal on a laptop: allows the well-known local admin token."""
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    """System prompt forced on every chat request; the audience cannot replace it."""
    max_tokens: int = Field(256, ge=1)
    """Cap on completion tokens per request, so one phone cannot hold a GPU slot for long."""
    model: str = "llama"
    """Model name sent upstream (and shown on /config), whatever the client asked for."""
    title: str = "Autoscaling LLM inference on Kubernetes"
    """Talk title shown on the page."""
    audience_url: str = ""
    """Public URL of the page, shown on the screen and in the QR code."""
    cors_origin: str | None = None
    """The one browser origin allowed cross-origin; None means same-origin only."""
    trusted_proxies: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    """CIDRs whose X-Forwarded-For is believed (the ingress); loopback by default."""
    rate_chat_per_min: float = Field(20, ge=0)
    """Chat requests per identity per minute (token bucket); 0 disables."""
    rate_chat_burst: float | None = Field(None, ge=1)
    """Chat bucket size (questions a phone may send back to back); None = one minute's worth."""
    rate_survey_per_min: float = Field(10, ge=0)
    """Survey submits per identity per minute (token bucket); 0 disables."""
    rate_address_per_min: float = Field(6000, ge=0)
    """Ceiling per source address on requests without an identity (fair share off); requests
    with one are held to their identity's buckets, not to the room's shared address."""
    fair_share: bool = True
    """Identities, the stream cap and fair queueing; false only to measure what they cost
    (the gateway benchmark's "before" case): phones are then whoever they say they are."""
    max_streams: int = Field(320, ge=0)
    """Streams in flight at most (the fleet's replicas x slots at full scale); 0: no cap."""
    room_size: int = Field(150, ge=1)
    """People expected in the room (count): an address may hold the share of the fleet and of
    the raffle that the rest of the room leaves it, so a venue NAT keeps working."""
    address_share_floor: float = Field(0.1, gt=0, le=1)
    """Fraction of max_streams any one address may always hold (the laptop's bound)."""
    presence_window_s: float = Field(60.0, gt=0)
    """Seconds an address counts as present after its last request (phones poll /config)."""
    stream_queue_timeout_s: float = Field(60.0, gt=0)
    """Seconds a question waits for a free slot before 503; the first token comes after it."""
    identity_burst: float | None = Field(None, ge=1)
    """Identities one address may obtain at once; None: `room_burst(room_size)`, the room
    opening the page behind one venue NAT plus 10 % (165 for 150)."""
    identity_per_min: float = Field(30, ge=0)
    """Identities per address per minute after the burst (token bucket); 0 disables."""
    entries_per_address: int = Field(300, ge=1)
    """Survey entries accepted from one address per session (a venue NAT; the draw then keeps
    each address's room share)."""
    max_submissions: int = Field(20_000, ge=1)
    """Survey entries kept per session (memory bound: ~1 KiB each)."""
    max_questions: int = Field(20_000, ge=1)
    """Counted questions kept per session (memory bound); later ones are answered, not kept."""
    max_prompt_chars: int = Field(500, ge=1)
    """Longest allowed prompt: characters of every message the client sends, whatever its
    role (an assistant turn is prefill on the GPU too)."""
    max_messages: int = Field(16, ge=1)
    """Most messages one chat request may carry."""
    max_body_bytes: int = Field(64 * 1024, ge=1024)
    """Largest request body accepted (413 above)."""
    questions_per_person: int = Field(1, ge=1)
    """Counted questions the page lets one person ask (shown on /config)."""
    name_max_chars: int = Field(40, ge=1)
    """Longest display name on a survey submission."""
    web_dir: Path | None = None
    """Built web page (web/dist); defaults to the repo's web/dist when it exists."""
    status_stale_s: float = Field(15.0, gt=0)
    """Age after which the published scaling status is reported unavailable."""

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise ValueError(f"{cidr!r} is not a CIDR (e.g. 10.0.0.0/8)") from exc
        return value

    @field_validator("mode_configmap")
    @classmethod
    def _ns_name(cls, value: str | None) -> str | None:
        if value is not None and (value.count("/") != 1 or "" in value.split("/")):
            raise ValueError(f"{value!r} must be 'namespace/name'")
        return value

    def checked(self) -> GatewaySettings:
        """Refuse settings that would be unsafe on stage; fill the local default token."""
        if self.internal_port and self.internal_port == self.port:
            raise SettingsError(
                f"internal_port (TUBEDEMO_INTERNAL_PORT) {self.internal_port} is the public "
                "port too: give the admin paths a port of their own"
            )
        token = self.admin_token.strip()
        if not token or token == LOCAL_ADMIN_TOKEN:
            if not self.local:
                raise SettingsError(
                    "TUBEDEMO_ADMIN_TOKEN is empty or the local default: set a secret token "
                    "(--admin-token) or TUBEDEMO_LOCAL=1 for a laptop rehearsal"
                )
            token = LOCAL_ADMIN_TOKEN
        if self.s3_bucket is None and self.store is None:
            raise SettingsError(
                "no store: pass --store DIR (or TUBEDEMO_STORE / TUBEDEMO_S3_BUCKET)"
            )
        return self.model_copy(update={"admin_token": token})


# Environment variable -> field. Lists are comma separated.
ENV_FIELDS: dict[str, str] = {
    "TUBEDEMO_HOST": "host",
    "TUBEDEMO_PORT": "port",
    "TUBEDEMO_INTERNAL_PORT": "internal_port",
    "TUBEDEMO_UPSTREAM": "upstream",
    "TUBEDEMO_UPSTREAM_CLIENT": "upstream_client",
    "TUBEDEMO_UPSTREAM_CONNECT_TIMEOUT_S": "upstream_connect_timeout_s",
    "TUBEDEMO_UPSTREAM_READ_TIMEOUT_S": "upstream_read_timeout_s",
    "TUBEDEMO_UPSTREAM_API_KEY": "upstream_api_key",
    "TUBEDEMO_STREAM_KEEPALIVE_S": "stream_keepalive_s",
    "TUBEDEMO_STORE": "store",
    "TUBEDEMO_S3_BUCKET": "s3_bucket",
    "TUBEDEMO_S3_PREFIX": "s3_prefix",
    "TUBEDEMO_SPOOL_DIR": "spool_dir",
    "TUBEDEMO_MODE": "mode",
    "TUBEDEMO_MODE_CONFIGMAP": "mode_configmap",
    "TUBEDEMO_KUBE_API": "kube_api",
    "TUBEDEMO_KUBE_TOKEN_FILE": "kube_token_file",
    "TUBEDEMO_KUBE_CA_FILE": "kube_ca_file",
    "TUBEDEMO_ADMIN_TOKEN": "admin_token",
    "TUBEDEMO_LOCAL": "local",
    "TUBEDEMO_SYSTEM_PROMPT": "system_prompt",
    "TUBEDEMO_MAX_TOKENS": "max_tokens",
    "TUBEDEMO_MODEL": "model",
    "TUBEDEMO_TITLE": "title",
    "TUBEDEMO_AUDIENCE_URL": "audience_url",
    "TUBEDEMO_CORS_ORIGIN": "cors_origin",
    "TUBEDEMO_TRUSTED_PROXIES": "trusted_proxies",
    "TUBEDEMO_RATE_CHAT_PER_MIN": "rate_chat_per_min",
    "TUBEDEMO_RATE_CHAT_BURST": "rate_chat_burst",
    "TUBEDEMO_RATE_SURVEY_PER_MIN": "rate_survey_per_min",
    "TUBEDEMO_RATE_ADDRESS_PER_MIN": "rate_address_per_min",
    "TUBEDEMO_FAIR_SHARE": "fair_share",
    "TUBEDEMO_MAX_STREAMS": "max_streams",
    "TUBEDEMO_ROOM_SIZE": "room_size",
    "TUBEDEMO_ADDRESS_SHARE_FLOOR": "address_share_floor",
    "TUBEDEMO_PRESENCE_WINDOW_S": "presence_window_s",
    "TUBEDEMO_STREAM_QUEUE_TIMEOUT_S": "stream_queue_timeout_s",
    "TUBEDEMO_IDENTITY_BURST": "identity_burst",
    "TUBEDEMO_IDENTITY_PER_MIN": "identity_per_min",
    "TUBEDEMO_ENTRIES_PER_ADDRESS": "entries_per_address",
    "TUBEDEMO_MAX_SUBMISSIONS": "max_submissions",
    "TUBEDEMO_MAX_QUESTIONS": "max_questions",
    "TUBEDEMO_MAX_PROMPT_CHARS": "max_prompt_chars",
    "TUBEDEMO_MAX_BODY_BYTES": "max_body_bytes",
    "TUBEDEMO_QUESTIONS_PER_PERSON": "questions_per_person",
    "TUBEDEMO_WEB_DIR": "web_dir",
}


def _convert(field: str, raw: str) -> object:
    if field == "trusted_proxies":
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if field in ("local", "fair_share"):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if (
        field
        in (
            "cors_origin",
            "mode_configmap",
            "s3_bucket",
            "kube_api",
            "rate_chat_burst",
            "identity_burst",
        )
        and not raw.strip()
    ):
        return None
    if field in ("kube_ca_file", "internal_port") and not raw.strip():
        return None
    return raw


def load_settings(env: Mapping[str, str] | None = None, **overrides: object) -> GatewaySettings:
    """Build settings from env vars, then flags (overrides that are not None win)."""
    source = os.environ if env is None else env
    values: dict[str, object] = {}
    for var, field in ENV_FIELDS.items():
        if var in source:
            values[field] = _convert(field, source[var])
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return GatewaySettings.model_validate(values).checked()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        env_name = next((v for v, f in ENV_FIELDS.items() if f == field), field)
        raise SettingsError(f"{field} ({env_name}): {first['msg']}") from None
