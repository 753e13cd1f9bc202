"""The reveal animation in a real pseudo-terminal: it plays, it ends on the winners, it is short."""

from __future__ import annotations

import pytest

from tests.gateway_proc import ADMIN_TOKEN, GatewayProcess
from tests.terminal import ANSI, in_terminal

pytestmark = pytest.mark.integration


def _in_terminal(*args: str, timeout: float = 60.0) -> tuple[str, float, int]:
    """Run the CLI with a 120x40 pty as its terminal; (raw output, seconds, exit code)."""
    return in_terminal(*args, env={"TUBEDEMO_ADMIN_TOKEN": ADMIN_TOKEN}, timeout=timeout)


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
