"""The FastAPI app: routes, lifespan (store replay, mode watch) and middleware wiring."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles

from gateway import state as st
from gateway.errors import ApiError, default_type, error_body
from gateway.limits import CLIENT_ID, BodyLimit, ClientAddress, Limiter
from gateway.metrics import Metrics, RequestMetrics
from gateway.modewatch import ModeWatch, default_api_url
from gateway.proxy import ProxyResponse, shape_chat
from gateway.settings import GatewaySettings
from gateway.store import Store, StoreError, make_store
from gateway.upstream import Upstream, make_upstream

log = logging.getLogger("gateway")

REPO_WEB_DIST = Path(__file__).resolve().parent.parent / "web" / "dist"


class Gateway:
    """Runtime state of one gateway process (single replica by design: see docs/api.md)."""

    def __init__(self, settings: GatewaySettings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.state = st.State()
        self.clock = st.RevClock()
        self.metrics = Metrics()
        self.limiter = Limiter(
            settings.rate_chat_per_min,
            settings.rate_survey_per_min,
            settings.rate_address_per_min,
            settings.rate_chat_burst,
        )
        self.address = ClientAddress(settings.trusted_proxies)
        self.upstream: Upstream | None = None
        self.mode: str = settings.mode or "quiz"
        self.loaded = False
        self.watch: ModeWatch | None = None
        self.watch_task: asyncio.Task[None] | None = None
        self.status: dict[str, Any] | None = None
        self.status_at: float | None = None
        self.admin_lock = asyncio.Lock()
        self.background: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        records = await self.store.load()
        for rec in st.latest(records):
            self.clock.seen(rec.rev)
            self.state.apply(rec)
        if self.settings.mode is not None:
            self.mode = self.settings.mode
        elif self.state.mode in ("quiz", "survey"):
            self.mode = self.state.mode
        if self.state.current is None or self.state.current not in self.state.sessions:
            await self._new_session("first session")
        s = self.settings
        self.upstream = make_upstream(
            s.upstream_client,
            s.upstream,
            s.upstream_connect_timeout_s,
            s.upstream_read_timeout_s,
            s.upstream_max_connections,
        )
        if s.mode_configmap:
            namespace, name = s.mode_configmap.split("/")
            api = s.kube_api or default_api_url()
            if api is None:
                raise RuntimeError(
                    "TUBEDEMO_MODE_CONFIGMAP is set but no API server: set TUBEDEMO_KUBE_API "
                    "or run in a pod (KUBERNETES_SERVICE_HOST)"
                )
            self.watch = ModeWatch(
                api,
                namespace,
                name,
                self._set_mode_from_cluster,
                token_file=s.kube_token_file,
                ca_file=s.kube_ca_file,
            )
            self.watch_task = asyncio.create_task(self.watch.run())
        self.loaded = True

    async def stop(self) -> None:
        if self.watch_task is not None:
            self.watch_task.cancel()
            await asyncio.gather(self.watch_task, return_exceptions=True)
        await asyncio.gather(*self.background, return_exceptions=True)
        if self.upstream is not None:
            await self.upstream.close()
        await self.store.close()

    def _set_mode_from_cluster(self, mode: str) -> None:
        if mode != self.mode:
            log.info("mode %s -> %s (ConfigMap)", self.mode, mode)
        self.mode = mode

    # ------------------------------------------------------------------ records
    def record(
        self, kind: str, key: str, data: dict[str, Any], session: str | None = None
    ) -> st.Record:
        return st.Record(kind=kind, key=key, data=data, rev=self.clock.next(), session=session)

    async def save(self, rec: st.Record) -> None:
        """Apply and persist; the caller answers 2xx only after this returns."""
        try:
            await self.store.save(rec)
        except StoreError as exc:
            log.error("store failed: %s", exc)
            raise ApiError(
                503, "could not store your answer; please try again", "store_unavailable"
            ) from exc
        self.state.apply(rec)

    async def _new_session(self, name: str | None) -> st.Session:
        sid = st.new_session_id()
        data = {"name": name or f"session {sid}", "created_at": st.utc_now(), "archived": False}
        await self.save(self.record("session", sid, data))
        await self.save(self.record("current", "current", {"session": sid}))
        return self.state.sessions[sid]

    def remember_question(self, text: str) -> None:
        sess = self.state.session()
        rec = self.record("question", uuid.uuid4().hex, {"text": text, "at": st.utc_now()}, sess.id)
        self.state.apply(rec)
        self.metrics.questions.inc()

        async def persist() -> None:
            try:
                await self.store.save(rec)
            except StoreError as exc:  # a question is not worth failing the answer for
                log.warning("question not stored: %s", exc)

        task = asyncio.create_task(persist())
        self.background.add(task)
        task.add_done_callback(self.background.discard)


# ---------------------------------------------------------------------- request models


class SurveySubmit(BaseModel):
    model_config = ConfigDict(extra="ignore")
    client_id: Annotated[str, Field(pattern=CLIENT_ID.pattern)]
    rating: Annotated[int, Field(ge=1, le=5, strict=True)]
    company: Annotated[str, Field(max_length=400)]
    name: Annotated[str | None, Field(max_length=400)] = None


class SubmitResult(BaseModel):
    id: str
    status: Literal["created", "updated"]


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


class DrawIn(BaseModel):
    count: Annotated[int, Field(ge=1, le=1000)] = 1
    seed: Annotated[int | None, Field(ge=0, le=2**63 - 1)] = None
    redraw: bool = False


class SessionIn(BaseModel):
    name: Annotated[str | None, Field(max_length=80)] = None


SUBMIT_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": SurveySubmit.model_json_schema()}},
    }
}

CHAT_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["messages"],
                    "properties": {
                        "model": {"type": "string"},
                        "messages": {
                            "type": "array",
                            "minItems": 1,
                            "items": {
                                "type": "object",
                                "required": ["role", "content"],
                                "properties": {
                                    "role": {
                                        "type": "string",
                                        "enum": ["system", "developer", "user", "assistant"],
                                    },
                                    "content": {"type": "string"},
                                },
                            },
                        },
                        "stream": {"type": "boolean"},
                        "max_tokens": {"type": "integer", "minimum": 1},
                        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
                    },
                }
            }
        },
    },
    "responses": {
        "200": {
            "description": "An OpenAI chat completion, or an SSE stream of chunks when stream=true",
            "content": {"application/json": {}, "text/event-stream": {}},
        },
        "400": {"description": "Invalid request (message says which field)"},
        "413": {"description": "Body too large"},
        "429": {"description": "Rate limited (Retry-After)"},
        "502": {"description": "The model server failed"},
        "503": {"description": "No model server reachable"},
        "504": {"description": "The model server timed out"},
    },
}


def _first_error(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "invalid request"
    err = errors[0]
    loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
    return f"{loc}: {err.get('msg', 'invalid')}"


def create_app(settings: GatewaySettings, store: Store | None = None) -> FastAPI:
    gw = Gateway(settings, store or make_store(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await gw.start()
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

    # ------------------------------------------------------------------ errors
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if isinstance(exc, ApiError):
            body = error_body(exc.message, exc.type, exc.code)
        else:
            body = error_body(str(exc.detail), default_type(exc.status_code), None)
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            error_body(_first_error(exc), "invalid_request_error", "invalid_field"),
            status_code=400,
        )

    # ------------------------------------------------------------------ helpers
    def client_id_header(x_client_id: str | None) -> str | None:
        if x_client_id is None:
            return None
        if not CLIENT_ID.match(x_client_id):
            raise ApiError(
                400, "X-Client-Id must be 1-64 letters, digits, '-' or '_'", "invalid_client_id"
            )
        return x_client_id

    async def admin(
        authorization: Annotated[str | None, Header()] = None,
        x_tubedemo_admin_token: Annotated[str | None, Header()] = None,
    ) -> None:
        expected = f"Bearer {gw.settings.admin_token}".encode()
        # Through the Kubernetes API server's service proxy Authorization never arrives (the
        # API server consumes it for its own authentication), so the CLI sends the token here.
        given = (
            authorization.encode()
            if authorization is not None
            else f"Bearer {x_tubedemo_admin_token}".encode()
            if x_tubedemo_admin_token is not None
            else None
        )
        if given is None or not hmac.compare_digest(given, expected):
            raise ApiError(
                401,
                "admin token missing or wrong (Authorization: Bearer <token>)",
                "unauthorized",
                headers={"WWW-Authenticate": "Bearer"},
            )

    Admin = Depends(admin)

    # ------------------------------------------------------------------ audience
    @app.get("/config", tags=["audience"])
    async def config() -> dict[str, Any]:
        s = gw.settings
        return {
            "mode": gw.mode,
            "title": s.title,
            "audience_url": s.audience_url,
            "session": gw.state.current,
            "model": s.model,
            "quiz": {
                "max_prompt_chars": s.max_prompt_chars,
                "questions_per_person": s.questions_per_person,
            },
            "survey": {"company_max_chars": 80, "name_max_chars": s.name_max_chars},
        }

    @app.post("/v1/chat/completions", tags=["audience"], openapi_extra=CHAT_SCHEMA)
    async def chat(
        request: Request,
        x_client_id: Annotated[str | None, Header(include_in_schema=False)] = None,
        x_tubedemo_counted: Annotated[str | None, Header(include_in_schema=False)] = None,
    ) -> Response:
        client = client_id_header(x_client_id)
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            raise ApiError(400, "request body is not valid JSON", "invalid_json") from None
        s = gw.settings
        plan = shape_chat(
            body,
            system_prompt=s.system_prompt,
            max_tokens=s.max_tokens,
            model=s.model,
            max_prompt_chars=s.max_prompt_chars,
            max_messages=s.max_messages,
        )
        gw.limiter.check("chat", client, gw.address(request.scope, request.headers))
        if (x_tubedemo_counted or "true").strip().lower() != "false":
            gw.remember_question(plan.question)
        assert gw.upstream is not None
        return ProxyResponse(
            gw.upstream, "POST", "/v1/chat/completions", plan.payload, plan.stream, gw.metrics
        )

    @app.get("/v1/models", tags=["audience"])
    async def models() -> Response:
        assert gw.upstream is not None
        return ProxyResponse(gw.upstream, "GET", "/v1/models", None, False, gw.metrics)

    @app.post(
        "/api/survey/submit",
        tags=["survey"],
        openapi_extra=SUBMIT_SCHEMA,
        responses={200: {"model": SubmitResult}, 400: {}, 409: {}, 429: {}, 503: {}},
    )
    async def submit(request: Request) -> Response:
        # Validated by hand rather than by a FastAPI body parameter: this is the hottest
        # write path (a room submitting at once) and FastAPI's dependency solving doubles it.
        try:
            body = SurveySubmit.model_validate_json(await request.body())
        except ValidationError as exc:
            raise RequestValidationError(exc.errors()) from None
        if gw.mode != "survey":
            raise ApiError(409, "the survey is not open yet", "not_survey_mode")
        company = " ".join(body.company.split())
        if not company:
            raise ApiError(400, "company: say where you work (or 'none')", "invalid_field")
        if len(company) > 80:
            raise ApiError(400, "company: at most 80 characters", "invalid_field")
        name = " ".join(body.name.split()) if body.name else None
        if name and len(name) > gw.settings.name_max_chars:
            raise ApiError(
                400, f"name: at most {gw.settings.name_max_chars} characters", "invalid_field"
            )
        gw.limiter.check("survey", body.client_id, gw.address(request.scope, request.headers))
        sess = gw.state.session()
        existing = sess.submissions.get(body.client_id)
        data = st.build_submission(existing, body.client_id, body.rating, company, name or None)
        rec = gw.record("submission", body.client_id, data, sess.id)
        # Apply first so a concurrent resubmit of the same phone sees this id, roll back on failure.
        sess.submissions[body.client_id] = data
        try:
            await gw.save(rec)
        except ApiError:
            if sess.submissions.get(body.client_id) is data:
                if existing is None:
                    del sess.submissions[body.client_id]
                else:
                    sess.submissions[body.client_id] = existing
            raise
        status = "updated" if existing else "created"
        gw.metrics.survey_submissions.labels(status=status).inc()
        return Response(
            json.dumps({"id": data["id"], "status": status}), media_type="application/json"
        )

    @app.get("/api/survey/winners", tags=["survey"])
    async def winners() -> dict[str, Any]:
        return st.public_winners(gw.state.session())

    @app.get("/api/survey/results", tags=["survey"])
    async def results() -> dict[str, Any]:
        return st.results(gw.state.session())

    @app.get("/api/status", tags=["audience"])
    async def status() -> dict[str, Any]:
        base = StatusIn().model_dump(mode="json")
        if gw.status is None or gw.status_at is None:
            return {"available": False, "age_s": None, **base}
        age = time.monotonic() - gw.status_at
        return {
            "available": age <= gw.settings.status_stale_s,
            "age_s": round(age, 3),
            **gw.status,
        }

    # ------------------------------------------------------------------ admin
    @app.post("/api/admin/mode", tags=["admin"], dependencies=[Admin], responses={401: {}, 409: {}})
    async def set_mode(body: ModeIn) -> dict[str, str]:
        if gw.settings.mode_configmap:
            raise ApiError(
                409,
                f"mode follows the ConfigMap {gw.settings.mode_configmap}; change it there",
                "mode_from_configmap",
            )
        async with gw.admin_lock:
            old = gw.mode
            await gw.save(gw.record("mode", "mode", {"mode": body.mode}))
            gw.mode = body.mode
        return {"old": old, "new": body.mode}

    @app.post("/api/admin/status", tags=["admin"], dependencies=[Admin], responses={401: {}})
    async def publish_status(body: StatusIn) -> dict[str, Any]:
        data = body.model_dump(mode="json")
        if data["updated_at"] is None:
            data["updated_at"] = st.utc_now()
        gw.status, gw.status_at = data, time.monotonic()
        return data

    @app.post("/api/admin/draw", tags=["admin"], dependencies=[Admin], responses={401: {}, 409: {}})
    async def draw(body: DrawIn) -> dict[str, Any]:
        async with gw.admin_lock:
            sess = gw.state.session()
            try:
                data, created = st.draw(sess, body.count, body.seed, body.redraw)
            except st.NoEligible as exc:
                raise ApiError(409, str(exc), "no_eligible_submissions") from None
            if created:
                await gw.save(gw.record("draw", data["draw_id"], data, sess.id))
            return st.draw_response(sess, data)

    @app.get(
        "/api/admin/export.csv",
        tags=["admin"],
        dependencies=[Admin],
        response_class=PlainTextResponse,
        responses={401: {}},
    )
    async def export() -> Response:
        sess = gw.state.session()
        return Response(
            st.export_csv(sess),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="survey-{sess.id}.csv"'},
        )

    @app.post("/api/admin/session", tags=["admin"], dependencies=[Admin], responses={401: {}})
    async def new_session(body: SessionIn) -> dict[str, Any]:
        async with gw.admin_lock:
            old = gw.state.session()
            await gw.save(
                gw.record(
                    "session",
                    old.id,
                    {"name": old.name, "created_at": old.created_at, "archived": True},
                )
            )
            sess = await gw._new_session(body.name)
        return st.session_summary(sess, gw.state.current)

    @app.get("/api/admin/sessions", tags=["admin"], dependencies=[Admin], responses={401: {}})
    async def sessions() -> list[dict[str, Any]]:
        ordered = sorted(gw.state.sessions.values(), key=lambda s: s.created_at)
        return [st.session_summary(s, gw.state.current) for s in ordered]

    @app.get("/api/admin/questions", tags=["admin"], dependencies=[Admin], responses={401: {}})
    async def questions() -> list[dict[str, Any]]:
        sess = gw.state.session()
        items = [{"id": k, **v} for k, v in sess.questions.items()]
        return sorted(items, key=lambda q: str(q["at"]))

    # ------------------------------------------------------------------ operations
    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], responses={503: {}})
    async def readyz() -> JSONResponse:
        watching = gw.watch is not None
        synced = gw.watch.synced.is_set() if gw.watch is not None else True
        ready = gw.loaded and synced
        body = {
            "ready": ready,
            "mode": gw.mode,
            "mode_source": "configmap" if watching else "local",
            "mode_synced": synced,
            "mode_error": gw.watch.last_error if gw.watch is not None else None,
            "store": gw.store.describe(),
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
    async def metrics() -> Response:
        return Response(generate_latest(gw.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # ------------------------------------------------------------------ web page
    web = settings.web_dir or REPO_WEB_DIST
    if (web / "index.html").is_file():
        index = web / "index.html"

        @app.get("/screen", include_in_schema=False)
        @app.get("/screen/{rest:path}", include_in_schema=False)
        async def screen() -> FileResponse:
            return FileResponse(index)

        app.mount("/", StaticFiles(directory=web, html=True), name="web")
    else:

        @app.get("/", include_in_schema=False)
        async def root() -> dict[str, str]:
            return {"service": "tubedemo gateway", "web": f"not built ({web} has no index.html)"}

    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origin:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=[settings.cors_origin],
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["content-type", "authorization", "x-client-id", "x-tubedemo-counted"],
            max_age=600,
        )
    app.add_middleware(RequestMetrics, metrics=gw.metrics)
    return app
