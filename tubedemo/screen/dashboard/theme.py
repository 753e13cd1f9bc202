"""How the dashboard looks: its options, the two palettes, and replica counts as tube lines."""

from __future__ import annotations

from dataclasses import dataclass

from tubedemo.core.config import DashboardConfig


@dataclass(frozen=True)
class DashboardOptions:
    """How the dashboard looks; built from the config's ``dashboard`` section."""

    title: str = "MIND THE QUEUE"
    """The header's name of the show."""
    tube_flavour: bool = True
    """Tube line names for replica counts and the playful commentary; off: plain words."""
    high_contrast: bool = False
    """Black, white and bright colours for a washed-out projector."""
    history_s: float = 300.0
    """Seconds of history the load graph spans."""

    @classmethod
    def from_config(cls, config: DashboardConfig, title: str | None = None) -> DashboardOptions:
        return cls(
            title=title or cls.title,
            tube_flavour=config.tube_flavour,
            high_contrast=config.high_contrast,
            history_s=config.history,
        )


DEFAULT_OPTIONS = DashboardOptions()
"""The projector's look: the tube-flavoured theme in normal contrast."""

NORMAL = {
    "header": "bold white on #0019a8",
    "border": "#dc241f",
    "title": "bold white",
    "label": "grey70",
    "value": "bold white",
    "ok": "bold #00d060",
    "warn": "bold #ffd300",
    "bad": "bold #ff3b30",
    "dim": "grey50",
    "graph_rps": "#0098d4",
    "graph_queue": "#dc241f",
    "cue": "bold black on #ffd300",
    "step_node": "grey62",
    "step_container": "#0098d4",
    "step_weights": "#ffd300",
    "step_compiled": "#9b0056",
    "step_ready": "bold #00d060",
}
HIGH_CONTRAST = {
    "header": "bold black on white",
    "border": "bold white",
    "title": "bold white",
    "label": "bold white",
    "value": "bold white",
    "ok": "bold bright_green",
    "warn": "bold bright_yellow",
    "bad": "bold bright_red",
    "dim": "white",
    "graph_rps": "bold bright_cyan",
    "graph_queue": "bold bright_yellow",
    "cue": "bold black on bright_yellow",
    "step_node": "white",
    "step_container": "bold bright_cyan",
    "step_weights": "bold bright_yellow",
    "step_compiled": "bold bright_magenta",
    "step_ready": "bold bright_green",
}

# Replica counts as tube lines, from the one-stop Waterloo & City to the Elizabeth line.
TUBE_LINES: tuple[tuple[str, str], ...] = (
    ("Suspended", "white on grey37"),
    ("Waterloo & City", "black on #95cdba"),
    ("Hammersmith & City", "black on #f3a9bb"),
    ("Circle", "black on #ffd300"),
    ("Bakerloo", "white on #b36305"),
    ("Victoria", "white on #0098d4"),
    ("Jubilee", "black on #a0a5a9"),
    ("Northern", "white on black"),
    ("Piccadilly", "white on #003688"),
    ("District", "white on #00782a"),
    ("Central", "white on #e32017"),
    ("Metropolitan", "white on #9b0056"),
    ("Elizabeth", "white on #6950a1"),
)


def tube_line(replicas: int) -> tuple[str, str]:
    """The tube line (name, badge style) standing for a replica count."""
    return TUBE_LINES[max(0, min(replicas, len(TUBE_LINES) - 1))]


def palette(options: DashboardOptions) -> dict[str, str]:
    """Style name -> Rich style of the theme ``options`` ask for."""
    return HIGH_CONTRAST if options.high_contrast else NORMAL
