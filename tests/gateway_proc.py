"""The real gateway (`python -m gateway`) as a subprocess on an ephemeral port, for CLI tests.

The port is whatever the kernel gave uvicorn (`--port 0`), read from its startup line, so
parallel test runs never collide. The store is a temporary directory.
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ADMIN_TOKEN = "audience-test-token-5f1c0d2e"
_RUNNING = re.compile(r"Uvicorn running on http://([0-9.]+|\[[0-9a-f:]+\]):(\d+)")
_INTERNAL = re.compile(r"internal paths on http://([0-9.]+|\[[0-9a-f:]+\]):(\d+)")


@dataclass
class GatewayProcess:
    url: str
    host: str
    port: int
    store: Path
    process: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)
    internal_port: int | None = None
    """The port serving /api/admin/*, /metrics, /readyz (``--internal-port``), None when the
    public port serves everything."""
    identities: dict[str, str] = field(default_factory=dict)
    """Test phone name -> the identity token it obtained (kept, as the page keeps it)."""

    def identity(self, phone: str) -> str:
        """The identity token of the phone called `phone`, obtained once as the page does."""
        if phone not in self.identities:
            resp = httpx.post(f"{self.url}/api/identity", timeout=10, trust_env=False)
            assert resp.status_code == 200, resp.text
            self.identities[phone] = str(resp.json()["token"])
        return self.identities[phone]

    def identity_id(self, phone: str) -> str:
        """The id the gateway knows the phone by (the export's client_id column)."""
        return self.identity(phone).split(".", 1)[0]

    def submit(self, client_id: str, rating: int, company: str, name: str | None) -> str:
        """A phone's survey submit through the public API, with an identity obtained as the
        page obtains one (`client_id` names the phone for the test only); returns the
        submission id."""
        body: dict[str, Any] = {"rating": rating, "company": company, "name": name}
        for _ in range(2):
            headers = {"X-Tubedemo-Identity": self.identity(client_id)}
            resp = httpx.post(
                f"{self.url}/api/survey/submit",
                json=body,
                headers=headers,
                timeout=10,
                trust_env=False,
            )
            if resp.status_code != 401:
                break
            self.identities.pop(client_id)  # a new talk session: the page asks for a new one
        assert resp.status_code == 200, resp.text
        return str(resp.json()["id"])

    @property
    def internal_url(self) -> str:
        """Where /api/admin/*, /metrics and /readyz are served (the public URL without an
        internal port)."""
        if self.internal_port is None:
            return self.url
        return f"http://{self.host}:{self.internal_port}"

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", timeout=10, trust_env=False)

    def admin(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        return httpx.request(
            method, f"{self.internal_url}{path}", headers=headers, timeout=10, trust_env=False, **kw
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)


def _die_with_parent() -> None:
    # A pytest killed by `timeout` or SIGKILL never runs fixture teardown; without this the
    # gateway (own session, re-parented to init) would outlive it.
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@contextmanager
def running_gateway(
    store: Path,
    *,
    host: str = "127.0.0.1",
    mode: str = "survey",
    audience_url: str | None = None,
    probe: bool = True,
    timeout: float = 30.0,
    wrap: Callable[[list[str]], list[str]] | None = None,
    upstream: str = "http://127.0.0.1:9",
    extra_env: dict[str, str] | None = None,
    internal: bool = False,
) -> Iterator[GatewayProcess]:
    """Start `python -m gateway` (rehearsal settings, no rate limits), stop it afterwards.
    ``internal``: with an internal port (`--internal-port=0`), as in the cluster.

    probe=False skips the direct /readyz wait, for a gateway this test process does not call
    itself (it is reached through the API server instead). ``wrap`` prefixes the command, e.g.
    to run it inside a test host's network namespace (tests/netns.py)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBEDEMO_")}
    env.update(
        TUBEDEMO_LOCAL="1",
        TUBEDEMO_RATE_CHAT_PER_MIN="0",
        TUBEDEMO_RATE_SURVEY_PER_MIN="0",
        TUBEDEMO_RATE_ADDRESS_PER_MIN="0",
    )
    if audience_url is not None:
        env["TUBEDEMO_AUDIENCE_URL"] = audience_url
    env.update(extra_env or {})
    argv = [
        sys.executable,
        "-m",
        "gateway",
        f"--host={host}",
        "--port=0",
        f"--store={store}",
        f"--mode={mode}",
        f"--admin-token={ADMIN_TOKEN}",
        # By default nothing listens there: most tests never ask the model anything.
        f"--upstream={upstream}",
        "--log-level=info",
        *(["--internal-port=0"] if internal else []),
    ]
    if wrap is not None:
        argv = wrap(argv)
    proc = subprocess.Popen(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )
    log: list[str] = []
    found: list[tuple[str, int]] = []
    inner: list[int] = []
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:  # drained until exit so the pipe never fills
            log.append(line.rstrip())
            match = _RUNNING.search(line)
            if match and not found:
                found.append((match.group(1), int(match.group(2))))
            if (match := _INTERNAL.search(line)) and not inner:
                inner.append(int(match.group(2)))
            if found and (inner or not internal):
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    ready.wait(timeout)
    if not found or (internal and not inner):
        proc.kill()
        proc.wait()
        raise RuntimeError("gateway did not start:\n" + "\n".join(log[-30:]))
    bound_host, port = found[0]
    gw = GatewayProcess(
        f"http://{bound_host}:{port}",
        bound_host,
        port,
        store,
        proc,
        log,
        inner[0] if inner else None,
    )
    deadline = time.monotonic() + timeout
    while probe and time.monotonic() < deadline:
        try:
            ready_url = f"{gw.internal_url}/readyz"
            if httpx.get(ready_url, timeout=10, trust_env=False).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    try:
        yield gw
    finally:
        gw.stop()
