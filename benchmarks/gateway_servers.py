"""The processes the gateway benches talk to, on loopback, each a context manager that starts
it, waits until it listens and stops it: the fake vLLM (`python -m gateway.fake_vllm`), the
gateway (`python -m gateway`, once per upstream client library) and LiteLLM's proxy.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tubedemo.core.processes import free_port

# LiteLLM refuses to start without a master key; every target gets the same header.
MASTER_KEY = "sk-bench-" + secrets.token_hex(16)


@dataclass
class Proc:
    popen: subprocess.Popen[str]
    url: str
    log: Path

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


def _spawn(cmd: list[str], pattern: str, env: dict[str, str], timeout: float = 60) -> Proc:
    log = Path(tempfile.mkstemp(prefix="bench-", suffix=".log")[1])
    popen = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **env},
    )
    assert popen.stdout is not None
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = popen.stdout.readline()
        if not line and popen.poll() is not None:
            break
        seen.append(line)
        if m := re.search(pattern, line):
            # Keep draining output so the child never blocks on a full pipe.
            log_fh = log.open("w")
            log_fh.writelines(seen)
            threading_drain(popen, log_fh)
            return Proc(popen, f"http://127.0.0.1:{m[1]}", log)
    popen.kill()
    raise RuntimeError(f"{cmd[:3]} did not start:\n{''.join(seen)[-2000:]}")


def threading_drain(popen: subprocess.Popen[str], fh: object) -> None:
    import threading

    def drain() -> None:
        assert popen.stdout is not None
        for line in popen.stdout:
            fh.write(line)  # type: ignore[attr-defined]
        fh.close()  # type: ignore[attr-defined]

    threading.Thread(target=drain, daemon=True).start()


@contextmanager
def fake_vllm(tokens: int, delay_s: float, first_delay_s: float = 0.0) -> Iterator[Proc]:
    cmd = [sys.executable, "-m", "gateway.fake_vllm", "--port", "0"]
    cmd += ["--tokens", str(tokens), "--delay-s", str(delay_s)]
    cmd += ["--first-delay-s", str(first_delay_s)]
    proc = _spawn(cmd, r"PORT (\d+)", {})
    try:
        yield proc
    finally:
        proc.stop()


@contextmanager
def gateway(
    upstream: str,
    client: str,
    store: Path,
    mode: str = "quiz",
    extra_env: dict[str, str] | None = None,
) -> Iterator[Proc]:
    env = {
        "TUBEDEMO_LOCAL": "1",
        # the proxy alone, as before identities and fair queueing (their cost: bench_abuse)
        "TUBEDEMO_FAIR_SHARE": "0",
        "TUBEDEMO_UPSTREAM_CLIENT": client,
        "TUBEDEMO_RATE_CHAT_PER_MIN": "0",
        "TUBEDEMO_RATE_SURVEY_PER_MIN": "0",
        "TUBEDEMO_RATE_ADDRESS_PER_MIN": "0",
        "TUBEDEMO_MAX_TOKENS": "100000",
        **(extra_env or {}),
    }
    cmd = [sys.executable, "-m", "gateway", "--port", "0", "--upstream", upstream]
    cmd += ["--store", str(store), "--mode", mode, "--log-level", "warning"]
    # uvicorn prints its address only at info; ask for it on a line of our own instead.
    cmd = [sys.executable, "-c", _GATEWAY_LAUNCHER, *cmd[2:]]
    proc = _spawn(cmd, r"LISTENING (\d+)", env)
    try:
        yield proc
    finally:
        proc.stop()


# Runs `python -m gateway` but reports the bound port (uvicorn's own line is at info level).
_GATEWAY_LAUNCHER = """
import sys, uvicorn
orig = uvicorn.Server.startup
async def startup(self, sockets=None):
    await orig(self, sockets=sockets)
    print("LISTENING", self.servers[0].sockets[0].getsockname()[1], flush=True)
uvicorn.Server.startup = startup
from gateway.__main__ import main
sys.exit(main(sys.argv[2:]))
"""


def litellm_binary() -> str | None:
    here = Path(sys.executable).parent / "litellm"
    return str(here) if here.exists() else shutil.which("litellm")


@contextmanager
def litellm(upstream: str, workdir: Path) -> Iterator[Proc]:
    binary = litellm_binary()
    assert binary is not None
    cfg = workdir / "litellm.yaml"
    cfg.write_text(
        json.dumps(
            {
                "model_list": [
                    {
                        "model_name": "llama",
                        "litellm_params": {
                            "model": "openai/llama",
                            "api_base": upstream + "/v1",
                            "api_key": "none",
                        },
                    }
                ],
                "litellm_settings": {"telemetry": False, "drop_params": True},
            }
        )
    )
    port = free_port()
    env = {
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_TELEMETRY": "False",
        "DISABLE_ADMIN_UI": "True",
        "LITELLM_MASTER_KEY": MASTER_KEY,
    }
    cmd = [binary, "--config", str(cfg), "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--num_workers", "1"]
    proc = _spawn(
        cmd, r"(?:Uvicorn running on|Application startup complete).*?(\d{2,5})?", env, 180
    )
    proc.url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.5)
    try:
        yield proc
    finally:
        proc.stop()
