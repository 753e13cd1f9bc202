"""The audience URL as a QR code: a terminal rendering for the projector and a PNG for slides.

Pure except `write_png`: the QR matrix comes from segno (offline, pure Python); the terminal
form packs two module rows into one text row with Unicode half blocks, so the code stays square
and small enough to fit a projector's terminal.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import segno
from rich.style import Style
from rich.text import Text

from tubedemo.core.errors import QrError

QUIET_ZONE = 2
"""Light modules around the code in the terminal (the standard's 4 wastes projector rows;
phone scanners read 2 reliably because the terminal background adds more)."""
PNG_SCALE = 16
"""Pixels per module in the PNG: sharp on a 4K slide without resampling."""
PNG_BORDER = 4
"""Light modules around the PNG code, as the QR standard asks."""

Matrix = tuple[tuple[bool, ...], ...]

_LIGHT_COLOR = "bright_white"
_DARK_COLOR = "black"


def qr_matrix(data: str) -> Matrix:
    """The QR code's modules (True = dark), without a quiet zone. Pure."""
    if not data:
        raise QrError("nothing to encode: the audience URL is empty; set talk.audience_url")
    try:
        code = segno.make_qr(data, error="m", boost_error=True)
    except segno.DataOverflowError as exc:
        raise QrError(f"the URL is too long for a QR code ({len(data)} characters)") from exc
    return tuple(tuple(bool(v) for v in row) for row in code.matrix)


def _padded(matrix: Matrix, border: int) -> list[list[bool]]:
    width = len(matrix[0]) + 2 * border if matrix else 2 * border
    rows = [[False] * width for _ in range(border)]
    rows += [[False] * border + list(row) + [False] * border for row in matrix]
    rows += [[False] * width for _ in range(border)]
    if len(rows) % 2:
        rows.append([False] * width)  # half blocks pair rows: pad with a light row
    return rows


def half_block_lines(matrix: Matrix, *, border: int = QUIET_ZONE) -> list[str]:
    """Plain text, dark modules as ink (█ ▀ ▄), light as spaces: reads right on a light
    background (a pasted document, a light terminal theme). Pure."""
    rows = _padded(matrix, border)
    glyph = {(False, False): " ", (True, False): "▀", (False, True): "▄", (True, True): "█"}
    return [
        "".join(glyph[(top, bottom)] for top, bottom in zip(upper, lower, strict=True))
        for upper, lower in zip(rows[0::2], rows[1::2], strict=True)
    ]


def half_block_text(matrix: Matrix, *, border: int = QUIET_ZONE) -> Text:
    """Rich text with explicit black/white colours on every cell, so the code reads correctly
    whatever the terminal's theme (dark projector themes invert plain block art). Pure."""
    rows = _padded(matrix, border)
    text = Text(no_wrap=True, overflow="crop")
    for i, (upper, lower) in enumerate(zip(rows[0::2], rows[1::2], strict=True)):
        if i:
            text.append("\n")
        for top, bottom in zip(upper, lower, strict=True):
            fg = _DARK_COLOR if top else _LIGHT_COLOR
            bg = _DARK_COLOR if bottom else _LIGHT_COLOR
            text.append("▀", style=Style(color=fg, bgcolor=bg))
    return text


def fits(matrix: Matrix, columns: int, lines: int, *, border: int = QUIET_ZONE) -> bool:
    """Whether the half-block code fits a terminal of that size. Pure."""
    size = len(matrix) + 2 * border
    return size <= columns and (size + 1) // 2 <= lines


def write_png(data: str, path: Path) -> Path:
    """Write the QR code as a PNG (atomically: a slide deck never sees half a file), making its
    folder if it does not exist yet (`--png slides/qr.png` in a new talk folder)."""
    qr_matrix(data)  # same validation and message as the terminal path
    code = segno.make_qr(data, error="m", boost_error=True)
    target = path.expanduser()
    directory = target.parent if str(target.parent) else Path(".")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise QrError(f"cannot write {path}: {exc.strerror or exc}") from exc
    fd, tmp = tempfile.mkstemp(prefix=".qr-", suffix=".png", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            code.save(out, kind="png", scale=PNG_SCALE, border=PNG_BORDER, dark="#000000")
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise QrError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return target
