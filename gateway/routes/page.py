"""The audience page and the presenter screen: the built web/ bundle, served at /."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles

REPO_WEB_DIST = Path(__file__).resolve().parents[2] / "web" / "dist"


def install(app: FastAPI, web_dir: Path | None) -> None:
    """Mount the page (after every other route: the mount at / catches the rest)."""
    web = web_dir or REPO_WEB_DIST
    if (web / "index.html").is_file():
        index = web / "index.html"

        # The screen is a client-side route of the same bundle.
        @app.get("/screen", include_in_schema=False)
        @app.get("/screen/{rest:path}", include_in_schema=False)
        async def screen() -> FileResponse:
            return FileResponse(index)

        app.mount("/", StaticFiles(directory=web, html=True), name="web")
    else:

        @app.get("/", include_in_schema=False)
        async def root() -> dict[str, str]:
            return {"service": "tubedemo gateway", "web": f"not built ({web} has no index.html)"}
