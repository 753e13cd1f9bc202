"""The reveal animation in a real pseudo-terminal: it plays, it ends on the winners, it is short."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time

import pytest

from tests.gateway_proc import ADMIN_TOKEN, GatewayProcess

pytestmark = pytest.mark.integration
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _in_terminal(*args: str, timeout: float = 60.0) -> tuple[str, float, int]:
    """Run the CLI with a 120x40 pty as its terminal; (raw output, seconds, exit code)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBEDEMO_")}
    env.update(TERM="xterm-256color", TUBEDEMO_ADMIN_TOKEN=ADMIN_TOKEN)
    env.pop("COLUMNS", None)
    env.pop("NO_COLOR", None)
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tubedemo", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = start + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    code = proc.wait(timeout=10)
    elapsed = time.monotonic() - start
    os.close(master)
    return b"".join(chunks).decode("utf-8", errors="replace"), elapsed, code


def test_the_reveal_plays_in_a_terminal_and_ends_on_the_winners(gateway: GatewayProcess) -> None:
    names = {
        gateway.submit(f"t-{i}", 5, f"Firm {i}", f"Person {i}"): f"Person {i}" for i in range(6)
    }
    raw, seconds, code = _in_terminal("winners", "--count", "2", "--gateway-url", gateway.url)
    assert code == 0, raw
    winners = [w["id"] for w in gateway.get("/api/survey/winners").json()["winners"]]
    plain = ANSI.sub("", raw)
    for wid in winners:
        assert names[wid] in plain
    # Many frames were drawn (the board title is redrawn on every frame)...
    assert plain.count("WINNERS") > 10
    # ...and the whole reveal stays short enough for a stage.
    assert seconds < 15


def test_instant_skips_the_animation(gateway: GatewayProcess) -> None:
    gateway.submit("t-0", 5, "Firm", "Solo")
    raw, _, code = _in_terminal("winners", "--instant", "--gateway-url", gateway.url)
    assert code == 0, raw
    plain = ANSI.sub("", raw)
    assert plain.count("WINNER") == 1  # one board, drawn once
    assert "Solo" in plain
