"""For the cluster and the dashboard: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.runtime import of

router = APIRouter(tags=["ops"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {}})
async def readyz(request: Request) -> JSONResponse:
    gw = of(request)
    watching = gw.watch is not None
    synced = gw.watch.synced.is_set() if gw.watch is not None else True
    ready = gw.loaded and synced
    body = {
        "ready": ready,
        "mode": gw.mode,
        "mode_source": "configmap" if watching else "local",
        "mode_synced": synced,
        "mode_error": gw.watch.last_error if gw.watch is not None else None,
        # the kind and backlog only: where the answers live is nobody's business on the internet
        "store": {k: v for k, v in gw.store.describe().items() if k in ("kind", "spooled")},
    }
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(request: Request) -> Response:
    return Response(generate_latest(of(request).metrics.registry), media_type=CONTENT_TYPE_LATEST)
