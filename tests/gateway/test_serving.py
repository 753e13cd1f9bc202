"""The built web page at / (SPA fallback for /screen) and `python -m gateway` itself."""

from __future__ import annotations

import gc
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from gateway.app import GC_THRESHOLDS


def test_built_page_is_served_with_spa_fallback_for_screen(start_gateway, tmp_path: Path) -> None:
    web = tmp_path / "dist"
    (web / "assets").mkdir(parents=True)
    (web / "index.html").write_text("<html>tubedemo page</html>")
    (web / "assets" / "app.js").write_text("console.log(1)")
    g = start_gateway(web_dir=web)
    assert "tubedemo page" in g.http.get("/").text
    assert g.http.get("/assets/app.js").text == "console.log(1)"
    for path in ("/screen", "/screen/winners"):
        resp = g.http.get(path)
        assert resp.status_code == 200 and "tubedemo page" in resp.text
    assert g.http.get("/config").json()["mode"] == "quiz"  # API routes still win
    assert g.http.get("/no-such-file.js").status_code == 404


def test_without_a_build_root_says_so(start_gateway, tmp_path: Path) -> None:
    g = start_gateway(web_dir=tmp_path / "missing")
    assert "not built" in g.http.get("/").json()["web"]


def test_cors_allows_only_the_configured_origin(start_gateway) -> None:
    g = start_gateway(cors_origin="https://talk.example")
    ok = g.http.options(
        "/config",
        headers={"Origin": "https://talk.example", "Access-Control-Request-Method": "GET"},
    )
    assert ok.headers.get("access-control-allow-origin") == "https://talk.example"
    bad = g.http.get("/config", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in bad.headers


def test_python_m_gateway_serves_and_stops_cleanly(tmp_path: Path, fake_vllm) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "TUBEDEMO_LOCAL": "1", "TUBEDEMO_UPSTREAM": fake_vllm.url}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway",
            "--port",
            "0",
            "--store",
            str(tmp_path),
            "--mode",
            "survey",
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        port = None
        deadline = time.monotonic() + 30
        assert proc.stderr is not None
        while port is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if match := re.search(r"http://127\.0\.0\.1:(\d+)", line):
                port = int(match[1])
        assert port, "gateway did not report its port"
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(base + "/config").json()["mode"] == "survey"
        models = httpx.get(base + "/v1/models").json()
        assert models["data"][0]["id"] == "llama"
    finally:
        proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises SIGTERM so supervisors see the signal.
        assert proc.wait(timeout=20) == -signal.SIGTERM
        assert proc.stderr is not None
        assert "Finished server process" in proc.stderr.read()


def test_the_gateway_keeps_the_collector_out_of_the_streams_way(
    start_gateway,
) -> None:  # type: ignore[no-untyped-def]
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    start_gateway()
    assert gc.get_freeze_count() > 10_000
    assert gc.get_threshold() == GC_THRESHOLDS  # the young passes over the streams rarer too
