"""What the page shows and how it behaves: /config, the mode, the published scaling status."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from gateway import state as st
from gateway.errors import ApiError
from gateway.limits import network_key
from gateway.routes.auth import Admin
from gateway.runtime import of

router = APIRouter()


class ModeIn(BaseModel):
    mode: Literal["quiz", "survey"]


class Replicas(BaseModel):
    ready: Annotated[int, Field(ge=0)] = 0
    desired: Annotated[int, Field(ge=0)] = 0
    max: Annotated[int, Field(ge=0)] = 0


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    queue: Annotated[int, Field(ge=0)] = 0
    multiplier: Annotated[int, Field(ge=0)] = 1
    virtual_commuters: Annotated[int, Field(ge=0)] = 0
    replicas: Replicas = Replicas()
    gpu_nodes: Annotated[int, Field(ge=0)] = 0
    updated_at: datetime | None = None


@router.get("/config", tags=["audience"])
async def config(request: Request) -> dict[str, Any]:
    gw = of(request)
    # Open pages poll this: it is how the gateway knows which networks the room is on.
    gw.presence.seen(network_key(gw.address(request.scope, request.headers)))
    s = gw.settings
    return {
        "mode": gw.mode,
        "title": s.title,
        "audience_url": gw.audience_url,
        "session": gw.state.current,
        "model": s.model,
        "quiz": {
            "max_prompt_chars": s.max_prompt_chars,
            "questions_per_person": s.questions_per_person,
            # gateway.answer_timeout (TUBEDEMO_UPSTREAM_READ_TIMEOUT_S): the page waits as long
            # for a first word as the gateway, the ALB, k6 and the twin's phones do
            "answer_timeout_s": s.upstream_read_timeout_s,
        },
        "survey": {"company_max_chars": st.COMPANY_MAX_CHARS, "name_max_chars": s.name_max_chars},
    }


@router.get("/api/status", tags=["audience"])
async def status(request: Request) -> dict[str, Any]:
    gw = of(request)
    base = StatusIn().model_dump(mode="json")
    if gw.status is None or gw.status_at is None:
        return {"available": False, "age_s": None, **base}
    age = time.monotonic() - gw.status_at
    return {
        "available": age <= gw.settings.status_stale_s,
        "age_s": round(age, 3),
        **gw.status,
    }


@router.post("/api/admin/mode", tags=["admin"], dependencies=[Admin], responses={401: {}, 409: {}})
async def set_mode(request: Request, body: ModeIn) -> dict[str, str]:
    gw = of(request)
    if gw.settings.mode_configmap:
        raise ApiError(
            409,
            f"mode follows the ConfigMap {gw.settings.mode_configmap}; change it there",
            "mode_from_configmap",
        )
    async with gw.admin_lock:
        old = gw.mode
        await gw.save(gw.state.set_mode(body.mode))
        gw.mode = body.mode
    return {"old": old, "new": body.mode}


@router.post("/api/admin/status", tags=["admin"], dependencies=[Admin], responses={401: {}})
async def publish_status(request: Request, body: StatusIn) -> dict[str, Any]:
    gw = of(request)
    data = body.model_dump(mode="json")
    if data["updated_at"] is None:
        data["updated_at"] = gw.state.sources.timestamp()
    gw.status, gw.status_at = data, time.monotonic()
    return data
