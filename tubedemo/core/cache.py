"""tubedemo's cache folder on this machine: ~/.cache/tubedemo, following XDG_CACHE_HOME.

What is built once per machine and reused by every checkout lives under it (the Go builds, the
vLLM env, the image base, the prepare logs). Standard library only: scripts/ import it before
the project's virtualenv exists.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str, override: str | None = None) -> Path:
    """~/.cache/tubedemo/<parts> ($XDG_CACHE_HOME is followed); when the environment variable
    named by ``override`` is set, its value replaces the whole folder."""
    if override and os.environ.get(override):
        return Path(os.environ[override])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base.joinpath("tubedemo", *parts)
