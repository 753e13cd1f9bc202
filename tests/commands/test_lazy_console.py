"""The CLI's lazy consoles behave as Rich consoles wherever Rich uses one (print, Live)."""

from __future__ import annotations

import io

from rich.live import Live
from rich.text import Text

from tubedemo.commands.options import lazy_console


def test_a_lazy_console_prints_and_drives_a_live_display() -> None:
    out = io.StringIO()
    console = lazy_console(file=out, force_terminal=False, width=40)
    console.print("hello")
    with Live(Text("frame"), console=console, auto_refresh=False) as live:
        live.update(Text("frame 2"), refresh=True)
    with console:  # Rich's buffer context, which Live enters too
        console.print("buffered")
    text = out.getvalue()
    assert "hello" in text and "frame 2" in text and "buffered" in text
