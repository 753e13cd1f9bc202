"""The survey: phones submit; the screen shows results and winners; the presenter draws and
exports. The rules live in `state.State`; these handlers parse, limit, store and answer."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway import state as st
from gateway.errors import ApiError
from gateway.limits import CLIENT_ID
from gateway.routes.auth import Admin, caller
from gateway.runtime import of

router = APIRouter()


class SurveySubmit(BaseModel):
    model_config = ConfigDict(extra="ignore")
    client_id: Annotated[str | None, Field(pattern=CLIENT_ID.pattern)] = None
    """Ignored when the request carries an identity (it always must, unless fair_share is
    off): the entry belongs to the identity the gateway issued, not to a name the phone picks."""
    rating: Annotated[int, Field(ge=1, le=5, strict=True)]
    company: Annotated[str, Field(max_length=400)]
    name: Annotated[str | None, Field(max_length=400)] = None


class SubmitResult(BaseModel):
    id: str
    status: Literal["created", "updated"]


class DrawIn(BaseModel):
    count: Annotated[int, Field(ge=1, le=1000)] = 1
    seed: Annotated[int | None, Field(ge=0, le=2**63 - 1)] = None
    redraw: bool = False


SUBMIT_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": SurveySubmit.model_json_schema()}},
    }
}


@router.post(
    "/api/survey/submit",
    tags=["survey"],
    openapi_extra=SUBMIT_SCHEMA,
    responses={200: {"model": SubmitResult}, 400: {}, 401: {}, 409: {}, 429: {}, 503: {}},
)
async def submit(request: Request) -> Response:
    # Validated by hand rather than by a FastAPI body parameter: this is the hottest
    # write path (a room submitting at once) and FastAPI's dependency solving doubles it.
    gw = of(request)
    s = gw.settings
    who = caller(request, need_identity=True)
    try:
        body = SurveySubmit.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    if gw.mode != "survey":
        raise ApiError(409, "the survey is not open yet", "not_survey_mode")
    try:
        company, name = st.clean_entry(body.company, body.name, s.name_max_chars)
    except st.Invalid as exc:
        raise ApiError(400, str(exc), "invalid_field") from exc
    if who.identity is not None:
        key = who.identity.id
    elif not s.fair_share and body.client_id:
        key = body.client_id
    else:
        raise ApiError(401, "no valid identity: open the page again", "identity_required")
    gw.limiter.check("survey", key, who.network)
    sess = gw.state.session()
    origin = gw.origin(who.network)
    if key not in sess.submissions:
        if len(sess.submissions) >= s.max_submissions:
            raise ApiError(429, "the raffle is full", "raffle_full", headers={"Retry-After": "60"})
        if sess.origins[origin] >= s.entries_per_address:
            raise ApiError(
                429,
                f"{s.entries_per_address} entries have come from your network already",
                "network_entries_exhausted",
                headers={"Retry-After": "60"},
            )
    rec, created = gw.state.submission(key, body.rating, company, name, origin)
    undo = gw.state.tentatively(rec)
    try:
        await gw.save(rec)
    except ApiError:
        undo()
        raise
    status = "created" if created else "updated"
    gw.metrics.survey_submissions.labels(status=status).inc()
    return Response(
        json.dumps({"id": rec.data["id"], "status": status}), media_type="application/json"
    )


@router.get("/api/survey/winners", tags=["survey"])
async def winners(request: Request) -> dict[str, Any]:
    return st.public_winners(of(request).state.session())


@router.get("/api/survey/results", tags=["survey"])
async def results(request: Request) -> dict[str, Any]:
    gw = of(request)
    return st.results(gw.state.session(), gw.settings.room_size)


@router.get("/api/admin/raffle", tags=["admin"], dependencies=[Admin], responses={401: {}})
async def raffle(request: Request) -> dict[str, Any]:
    """Before drawing: entries, how many the draw would keep, and the origins holding most."""
    gw = of(request)
    return st.raffle_summary(gw.state.session(), gw.settings.room_size)


@router.post("/api/admin/draw", tags=["admin"], dependencies=[Admin], responses={401: {}, 409: {}})
async def draw(request: Request, body: DrawIn) -> dict[str, Any]:
    gw = of(request)
    async with gw.admin_lock:
        room = gw.settings.room_size
        try:
            data, rec = gw.state.draw(body.count, body.seed, body.redraw, room)
        except st.NoEligible as exc:
            raise ApiError(409, str(exc), "no_eligible_submissions") from exc
        if rec is not None:
            await gw.save(rec)
        return st.draw_response(gw.state.session(), data, room)


@router.get(
    "/api/admin/export.csv",
    tags=["admin"],
    dependencies=[Admin],
    response_class=PlainTextResponse,
    responses={401: {}},
)
async def export(request: Request) -> Response:
    sess = of(request).state.session()
    return Response(
        st.export_csv(sess),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="survey-{sess.id}.csv"'},
    )
