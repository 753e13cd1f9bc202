"""Find the files tubedemo ships: templates/ and k6/, from a checkout or an installed wheel.

A wheel carries them under ``tubedemo/_bundled/`` (pyproject force-include); an editable install
or a checkout reads them from the repository's top level, where they are edited.
"""

from __future__ import annotations

from pathlib import Path

from tubedemo.core.errors import InstallError

# this file is tubedemo/core/resources.py: the package is two folders up
_PACKAGE = Path(__file__).resolve().parent.parent
_BUNDLED = _PACKAGE / "_bundled"
_REPO = _PACKAGE.parent


def resource_dir(name: str) -> Path:
    """Directory of a shipped resource folder (``templates`` or ``k6``)."""
    for candidate in (_BUNDLED / name, _REPO / name):
        if candidate.is_dir():
            return candidate
    raise InstallError(
        f"tubedemo's {name}/ folder is missing from this installation; reinstall tubedemo"
    )


def repo_root() -> Path | None:
    """The checkout this package runs from, or None for an installed wheel."""
    return _REPO if (_REPO / "pyproject.toml").is_file() else None
