"""`create_app`: the FastAPI app from its parts: runtime, routers, error handlers, middleware.

Routes live in gateway/routes/ (one router per area), survey rules in gateway/state.py, the
runtime (store, limits, upstream, mode watch) in gateway/runtime.py.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from gateway.errors import ApiError, default_type, error_body
from gateway.headers import SecurityHeaders
from gateway.limits import BodyLimit
from gateway.metrics import RequestMetrics
from gateway.paths import DisguisedPaths
from gateway.routes import admin, chat, config, forecast, identity, ops, page, survey
from gateway.runtime import Gateway
from gateway.settings import GatewaySettings
from gateway.state import Sources
from gateway.store import Store, make_store

GC_THRESHOLDS = (50_000, 20, 100)
"""The collector's thresholds (Python's defaults: 700, 10, 10). With ~200 streams in flight
their objects survive the young passes, and the frequent passes over them were the gateway's
first-token tail. Steady arrival (160/s, ~200 in flight), added first token p99 over direct,
fair share off / on, one run each (load average 1.2-2.8): defaults 99 / 53 ms; only full
passes rarer (700, 10, 1000) 19 / 26 ms; these 2.4 / 2.3 ms; no collector at all 5.9 / 3.9 ms.
Young passes 70x rarer, full ones 10x rarer; garbage in cycles lives a little longer (the
abuse bench's RSS after its 100,000-request flood checks it)."""


def create_app(
    settings: GatewaySettings, store: Store | None = None, sources: Sources | None = None
) -> FastAPI:
    """The gateway app; `sources` fixes its clock and randomness (tests), else the system's."""
    gw = Gateway(settings, store or make_store(settings), sources)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await gw.start()
        # The collector's full passes walked every object made at start-up (the framework,
        # the store's session): 0.1-0.6 s each on a loaded 2-core machine, each one a pause
        # for every stream in flight (the gateway bench's p99). What exists now lives as long
        # as the process; frozen, the collector skips it.
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        try:
            yield
        finally:
            await gw.stop()

    app = FastAPI(
        title="tubedemo gateway",
        version="1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.gateway = gw
    app.exception_handler(HTTPException)(_http_error)
    app.exception_handler(RequestValidationError)(_invalid)
    routers = (
        config.router,
        identity.router,
        chat.router,
        survey.router,
        admin.router,
        ops.router,
        forecast.router,
    )
    for router in routers:
        app.include_router(router)
    page.install(app, settings.web_dir)

    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(DisguisedPaths, internal_port=settings.internal_port)
    if settings.cors_origin:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=[settings.cors_origin],
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=[
                "content-type",
                "authorization",
                "x-tubedemo-identity",
                "x-tubedemo-counted",
            ],
            max_age=600,
        )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestMetrics, metrics=gw.metrics)
    return app


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    if isinstance(exc, ApiError):
        body = error_body(exc.message, exc.type, exc.code)
    else:
        body = error_body(str(exc.detail), default_type(exc.status_code), None)
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    return JSONResponse(
        error_body(_first_error(exc), "invalid_request_error", "invalid_field"),
        status_code=400,
    )


def _first_error(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "invalid request"
    err = errors[0]
    loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
    return f"{loc}: {err.get('msg', 'invalid')}"
