"""The on-stage reveal is a pure function of the draw: frames, board and table."""

from __future__ import annotations

from rich.console import Console

from tubedemo.audience.gateway_client import Draw, Winner
from tubedemo.audience.reveal import HIDDEN, board, board_frames, winner_lines, winners_table

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
