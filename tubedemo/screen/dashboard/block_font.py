"""The dashboard's big figures: digits in a 3-row block font, crisp at twice the size."""

from __future__ import annotations

_FONT = {
    "0": ("█▀█", "█ █", "▀▀▀"),
    "1": ("▄█ ", " █ ", "▀▀▀"),
    "2": ("▀▀█", "█▀▀", "▀▀▀"),
    "3": ("▀▀█", " ▀█", "▀▀▀"),
    "4": ("█ █", "▀▀█", "  ▀"),
    "5": ("█▀▀", "▀▀█", "▀▀▀"),
    "6": ("█▀▀", "█▀█", "▀▀▀"),
    "7": ("▀▀█", "  █", "  ▀"),
    "8": ("█▀█", "█▀█", "▀▀▀"),
    "9": ("█▀█", "▀▀█", "▀▀▀"),
    ",": ("   ", "   ", " ▄▀"),
    "?": ("▀▀█", " ▀▀", " ▀ "),
    "-": ("   ", "▀▀▀", "   "),
    "/": ("  █", " █ ", "▀  "),
}


def big_text(text: str, scale: int = 1) -> list[str]:
    """``text`` (digits, comma, ?, -) in a 3-row block font; ``scale`` 2 doubles both ways."""
    rows = ["", "", ""]
    for ch in text:
        glyph = _FONT.get(ch, _FONT["?"])
        for i in range(3):
            rows[i] += glyph[i] + " "
    rows = [r.rstrip() for r in rows]
    if scale == 1:
        return rows
    # Each cell holds two vertical pixels (▀ top, ▄ bottom); at 2x every pixel becomes a full
    # cell pair, so the doubled figure stays crisp instead of striped.
    top = {"█": "█", "▀": "█", "▄": " ", " ": " "}
    bottom = {"█": "█", "▀": " ", "▄": "█", " ": " "}
    out: list[str] = []
    for row in rows:
        out.append("".join(top.get(c, c) * 2 for c in row))
        out.append("".join(bottom.get(c, c) * 2 for c in row))
    return out
