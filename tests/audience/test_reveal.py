"""The on-stage reveal is a pure function of the draw: frames, board and table."""

from __future__ import annotations

from rich.console import Console

from tubedemo.audience.gateway_client import Concentration, Draw, Raffle, Winner
from tubedemo.audience.reveal import (
    HIDDEN,
    board,
    board_frames,
    raffle_line,
    winner_lines,
    winners_table,
)

DRAW = Draw(
    draw_id="d1",
    seed=7,
    session="s1",
    winners=(
        Winner(id="a" * 32, name="Ada Lovelace", company="Analytical Engines"),
        Winner(id="b" * 32, name="", company="Acme"),
    ),
)


def test_the_reveal_ends_on_every_winner_in_full() -> None:
    frames = board_frames(winner_lines(DRAW))
    assert frames[-1] == ("Ada Lovelace — Analytical Engines", "anonymous — Acme")


def test_winners_settle_one_after_another() -> None:
    frames = board_frames(winner_lines(DRAW), steps=5)
    assert len(frames) == 10
    assert frames[0][1] == HIDDEN  # the second winner stays hidden while the first flaps
    assert frames[4][0] == "Ada Lovelace — Analytical Engines"
    assert frames[5][0] == frames[4][0]  # and stays settled while the second flaps
    assert frames[0][0] != frames[4][0]
    assert len(frames[0][0]) == len(frames[4][0])  # flapping never changes the width


def test_the_same_draw_flaps_the_same_way() -> None:
    assert board_frames(winner_lines(DRAW), seed=3) == board_frames(winner_lines(DRAW), seed=3)


def test_a_winner_without_a_name_is_shown_as_anonymous() -> None:
    assert [line.name for line in winner_lines(DRAW)] == ["Ada Lovelace", "anonymous"]


def test_board_and_table_name_the_winners_and_how_to_repeat_the_draw() -> None:
    console = Console(width=100, record=True, color_system=None)
    console.print(board(board_frames(winner_lines(DRAW))[-1], title="WINNERS"))
    console.print(winners_table(DRAW, redraw=False))
    text = console.export_text()
    assert "Ada Lovelace — Analytical Engines" in text
    assert "a" * 32 in text and "seed 7" in text and "draw d1" in text


def test_names_that_look_like_markup_are_printed_as_typed() -> None:
    draw = Draw(
        draw_id="d2",
        seed=1,
        session="s1",
        winners=(
            Winner(id="c" * 32, name="[/]", company="[bold red]ACME[/]"),
            Winner(id="d" * 32, name="[link=http://x]click[/link]", company="[/red]"),
        ),
    )
    console = Console(width=120, record=True, color_system=None)
    console.print(board(board_frames(winner_lines(draw))[-1], title="WINNERS"))
    shown = console.export_text()
    assert "[/] — [bold red]ACME[/]" in shown
    assert "[link=http://x]click[/link] — [/red]" in shown
    console.print(winners_table(draw, redraw=False))
    table = console.export_text()
    for typed in ("[/]", "[bold red]ACME[/]", "[link=http://x]click[/link]", "[/red]"):
        assert f" {typed} " in table, typed


def test_the_raffle_line_names_the_network_that_entered_most() -> None:
    raffle = Raffle(
        entries=60,
        eligible=25,
        origins=21,
        room=20,
        largest=(Concentration(origin="a1b2c3d4e5f6", entries=40, eligible=5),),
    )
    line = raffle_line(raffle).plain
    assert line.startswith("raffle: 60 entries from 21 networks, 25 in the draw (room 20)")
    assert "most from one network (a1b2c3d4e5f6): 40 entries (67%), 5 in the draw" in line
