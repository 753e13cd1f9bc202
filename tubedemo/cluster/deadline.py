"""The GPU deadline in the cluster: the ``tubedemo-deadline`` ConfigMap that the rendered CronJob
enforces (``python -m gateway.deadline``: past it, KEDA paused at 0, vLLM at 0 replicas, the GPU
NodePool deleted), so the GPUs never outlive the talk even when the laptop is gone.

``up`` renders it (``for_up``, pure: an explicit end of the talk wins; else a deadline still in
the future is kept, so `up` run again changes nothing and never cuts back what `show` set; else
`up`'s time + talk.duration), ``show`` moves it later (``extend``), ``status`` shows it
(``describe``, pure).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tubedemo.cluster.api import Api
from tubedemo.cluster.plan import Ref
from tubedemo.core.config import DemoConfig

CONFIGMAP = "tubedemo-deadline"
FIELD_MANAGER = "tubedemo-show"
"""`show`'s own field manager for the deadline key (as the mode and audience URL have theirs)."""


@dataclass(frozen=True)
class LiveDeadline:
    """The deadline as the cluster holds it."""

    deadline: datetime | None
    """None: not a time (an offline render's placeholder)."""
    reaped_at: str | None
    """When the CronJob removed the GPUs, if it has."""


def ref(namespace: str) -> Ref:
    return Ref("v1", "ConfigMap", namespace, CONFIGMAP)


def _parse(text: object) -> datetime | None:
    try:
        when = datetime.fromisoformat(str(text or "").strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def stamp(when: datetime) -> str:
    """The form the ConfigMap and the CronJob's program use (ISO 8601, UTC, seconds)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read(api: Api, namespace: str) -> LiveDeadline | None:
    """The live deadline, or None when `up` has not made the ConfigMap."""
    live = api.get(ref(namespace))
    if live is None:
        return None
    data = live.get("data") or {}
    reaped = data.get("reaped_at")
    return LiveDeadline(_parse(data.get("deadline")), str(reaped) if reaped else None)


def for_up(cfg: DemoConfig, live: LiveDeadline | None, now: datetime) -> DemoConfig:
    """The config `up` renders: the talk's end known. Pure."""
    if cfg.talk_ends_at is not None:
        return cfg
    if live is not None and live.reaped_at is None and live.deadline and live.deadline > now:
        end = live.deadline - timedelta(seconds=cfg.talk.gpu_grace)
        return cfg.model_copy(update={"talk": cfg.talk.model_copy(update={"ends_at": end})})
    return cfg.with_talk_from(now)


def extend(api: Api, namespace: str, until: datetime) -> datetime:
    """Move the deadline to ``until`` unless it is already later; the deadline in force."""
    live = read(api, namespace)
    if live is not None and live.deadline is not None and live.deadline >= until:
        return live.deadline
    api.apply_configmap_key(ref(namespace), "deadline", stamp(until), field_manager=FIELD_MANAGER)
    return until


def describe(live: LiveDeadline | None, pool: str, now: datetime) -> str:
    """One line for `status`. Pure."""
    if live is None:
        return "GPU deadline: none in the cluster (`tubedemo up` sets it)"
    if live.reaped_at is not None:
        return f"GPU deadline: passed; the cluster removed NodePool {pool} at {live.reaped_at}"
    if live.deadline is None:
        return "GPU deadline: not a time (an offline render?); run `tubedemo up`"
    left = (live.deadline - now).total_seconds()
    when = f"{live.deadline:%Y-%m-%d %H:%M} UTC"
    if left <= 0:
        return f"GPU deadline: {when} has passed; the cluster removes NodePool {pool} within 5 min"
    minutes = int(left // 60)
    span = f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"
    return (
        f"GPU deadline: {when} (in {span}): then the cluster itself scales vLLM to 0 and "
        f"removes NodePool {pool}"
    )
