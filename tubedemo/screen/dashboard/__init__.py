"""The stage dashboard: a pure function from snapshot history to one Rich renderable.

``render(history, width, height, options)`` reads nothing but its arguments and has no side
effects; ``tubedemo watch`` hands its result to Rich Live once per tick. Every frame has exactly
``height`` lines of exactly ``width`` cells, so Live redraws in place without flicker, and the
same snapshots at the same size always give the same text (the golden tests rely on it). A
caller that draws frame after frame may pass its own ``StartupMemo`` (less work, same frame).

The layout is built for a projector at 80x24 and grows into bigger terminals: 2x figures, taller
load graphs, per-pod and per-node lists and a longer events ticker.

Modules: ``theme`` (options, palettes, tube lines), ``block_font`` (the big figures),
``graphs`` (the load graph's columns), ``frame`` (what one frame's panels read, the start-up
memo, text helpers), ``panels``, ``waterfall`` (each replica's start-up as a bar of glyphs),
``commentary`` (the words), ``layout`` (the whole screen).
"""

from tubedemo.screen.dashboard.block_font import big_text
from tubedemo.screen.dashboard.frame import StartupMemo
from tubedemo.screen.dashboard.graphs import chart
from tubedemo.screen.dashboard.layout import MIN_HEIGHT, MIN_WIDTH, render, render_text
from tubedemo.screen.dashboard.theme import DashboardOptions, tube_line

__all__ = [
    "MIN_HEIGHT",
    "MIN_WIDTH",
    "DashboardOptions",
    "StartupMemo",
    "big_text",
    "chart",
    "render",
    "render_text",
    "tube_line",
]
