"""The on-stage winner reveal: a departure-board flap that settles on each winner in turn.

Pure: `board_frames` computes every frame from the draw and a seed; `board` and `winners_table`
turn a frame into Rich renderables. The command only plays them (or jumps to the last one when
the output is not a terminal).

Names and companies arrive as the gateway shows them everywhere (normalised, rude words
masked); here they are only ever Rich `Text`, never markup, so a winner called `[/]` or
`[red]` is printed as typed instead of crashing the reveal or styling the stage.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from tubedemo.audience.gateway_client import Draw, Raffle

FLAP_GLYPHS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
STEPS_PER_WINNER = 14
"""Frames until one winner's line settles; at FRAME_SECONDS that is about a second."""
FRAME_SECONDS = 0.07
"""Pause between frames (s): fast enough to feel like a flap board, slow enough to read."""
HIDDEN = "· · ·"


@dataclass(frozen=True)
class WinnerLine:
    """One winner as shown on stage."""

    place: int
    name: str
    company: str
    id: str


def winner_lines(draw: Draw) -> list[WinnerLine]:
    """The winners in draw order with display text (no name → 'anonymous'). Pure."""
    return [
        WinnerLine(
            place=i,
            name=(w.name or "").strip() or "anonymous",
            company=(w.company or "").strip(),
            id=w.id,
        )
        for i, w in enumerate(draw.winners, start=1)
    ]


def _flap(text: str, settled: int, rng: random.Random) -> str:
    return "".join(
        ch if i < settled or ch == " " else rng.choice(FLAP_GLYPHS) for i, ch in enumerate(text)
    )


def board_frames(
    lines: list[WinnerLine], *, steps: int = STEPS_PER_WINNER, seed: int = 0
) -> list[tuple[str, ...]]:
    """Every frame of the reveal: winners settle one after another, letters left to right;
    the last frame shows everyone in full. Pure (the flapping letters come from `seed`)."""
    rng = random.Random(seed)
    texts = [f"{line.name} — {line.company}" if line.company else line.name for line in lines]
    frames: list[tuple[str, ...]] = []
    for current, text in enumerate(texts):
        for step in range(1, steps + 1):
            settled = len(text) * step // steps
            frame = [*texts[:current], _flap(text, settled, rng)]
            frame += [HIDDEN] * (len(texts) - current - 1)
            frames.append(tuple(frame))
    if not frames or frames[-1] != tuple(texts):
        frames.append(tuple(texts))
    return frames


def board(frame: tuple[str, ...], *, title: str) -> Panel:
    """One frame as a Tube-sign panel (navy, red border). Pure."""
    rows = [
        Text.assemble((f"{place:>2}  ", "bold yellow"), (text, "bold white"))
        for place, text in enumerate(frame, start=1)
    ]
    return Panel(
        Group(*rows),
        title=Text(title, style="bold white"),
        border_style="#DC241F",
        style="on #000F9F",
        padding=(1, 4),
        expand=False,
    )


def winners_table(draw: Draw, *, redraw: bool) -> Table:
    """The presenter's record of a draw: who, from where, and how to repeat it. Pure."""
    table = Table(
        title="winners (new draw)" if redraw else "winners",
        caption=f"draw {draw.draw_id} · seed {draw.seed} · session {draw.session}",
        show_lines=False,
    )
    table.add_column("#", justify="right")
    table.add_column("name", style="bold")
    table.add_column("company")
    table.add_column("id", style="dim")
    for line in winner_lines(draw):
        table.add_row(str(line.place), Text(line.name), Text(line.company or "—"), line.id)
    return table


def raffle_line(raffle: Raffle) -> Text:
    """What the presenter reads before the draw: entries, how many the draw keeps, and the
    address holding the most (a shared venue network or one script). Pure."""
    text = Text(
        f"raffle: {raffle.entries} entries from {raffle.origins} networks, "
        f"{raffle.eligible} in the draw (room {raffle.room})"
    )
    if raffle.already_won:
        text.append(f", {raffle.already_won} already won")
    if raffle.largest and raffle.largest[0].entries > 1:
        top = raffle.largest[0]
        share = top.entries / max(1, raffle.entries)
        text.append(
            f"; most from one network ({top.origin}): {top.entries} entries ({share:.0%}), "
            f"{top.eligible} in the draw",
            style="yellow" if top.eligible < top.entries else "",
        )
    return text
