"""A package's curated face, imported only when used: ``from tubedemo.twin import World``.

A package ``__init__`` names its public names and the module each lives in, and sets
``__getattr__ = lazy_face(__name__, FACE)`` (PEP 562): a name is imported from its module on
first use, so ``import tubedemo.core`` stays as light as ``tubedemo --help`` needs and a pure
module of a package does not drag in the package's heavy ones (kubernetes, httpx, jsonschema).
The same ``__init__`` imports those names under ``TYPE_CHECKING`` for mypy.

A face never exports a name that is also one of the package's modules (``render`` in
``manifests``, ``simulate`` in ``twin``, ``up`` in ``cluster``): the module, once imported,
would take its place. Those doors are reached through their module: ``render.render(cfg)``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def lazy_face(package: str, face: Mapping[str, str]) -> Callable[[str], object]:
    """The module ``__getattr__`` of ``package``: ``face`` maps each public name to the module
    (relative to the package) it is imported from, on first use; then it is an attribute."""

    def __getattr__(name: str) -> object:
        module = face.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
