"""The presenter's talk sessions (a fresh survey per talk) and the questions asked in them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from gateway import state as st
from gateway.routes.auth import Admin
from gateway.runtime import of

router = APIRouter(tags=["admin"], dependencies=[Admin], responses={401: {}})


class SessionIn(BaseModel):
    name: Annotated[str | None, Field(max_length=80)] = None


@router.post("/api/admin/session")
async def new_session(request: Request, body: SessionIn) -> dict[str, Any]:
    gw = of(request)
    async with gw.admin_lock:
        await gw.save(gw.state.archive_current())
        await gw.save_all(gw.state.open_session(body.name))
        gw.counted.clear()  # identities belong to one session
        return st.session_summary(gw.state.session(), gw.state.current)


@router.get("/api/admin/sessions")
async def sessions(request: Request) -> list[dict[str, Any]]:
    state = of(request).state
    ordered = sorted(state.sessions.values(), key=lambda s: s.created_at)
    return [st.session_summary(s, state.current) for s in ordered]


@router.get("/api/admin/questions")
async def questions(request: Request) -> list[dict[str, Any]]:
    sess = of(request).state.session()
    items = [{"id": k, **v} for k, v in sess.questions.items()]
    return sorted(items, key=lambda q: str(q["at"]))


@router.get("/api/admin/streams")
async def streams(request: Request) -> dict[str, Any]:
    """The fleet's stream slots now: in flight, waiting, and the addresses holding the most
    with the share each may hold (keyed hashes, like the raffle's origins)."""
    gw = of(request)
    gate = gw.gate
    lanes = sorted(gate.by_lane.items(), key=lambda item: -item[1])[:5]
    return {
        "capacity": gate.capacity,
        "in_flight": gate.in_flight,
        "waiting": gate.waiting,
        "lanes": len(gate.by_lane),
        "largest": [
            {
                "origin": lane if lane == "load" else gw.origin(lane),
                "in_flight": n,
                "may_hold": gate.lane_cap(lane) if gate.capacity > 0 else None,
            }
            for lane, n in lanes
        ],
    }
