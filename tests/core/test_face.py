"""A package's curated face (core.face): each public name is the object of the module it names,
is declared for mypy, never shadows a module, and costs nothing until it is used."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tubedemo.core.face import lazy_face

ROOT = Path(__file__).resolve().parents[2]
FACES = ["tubedemo.audience", "tubedemo.cluster", "tubedemo.manifests", "tubedemo.twin"]


def face_of(package: str) -> dict[str, str]:
    face = importlib.import_module(package).FACE
    assert isinstance(face, dict)
    return face


def declared_for_mypy(package: str) -> dict[str, str]:
    """name -> module of the ``if TYPE_CHECKING:`` imports of the package's ``__init__``."""
    source = (ROOT / package.replace(".", "/") / "__init__.py").read_text(encoding="utf-8")
    declared: dict[str, str] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom) and stmt.module is not None
                for alias in stmt.names:
                    assert alias.asname == alias.name, "re-exported as itself, for mypy"
                    declared[alias.name] = stmt.module.removeprefix(f"{package}.")
    return declared


@pytest.mark.parametrize("package", FACES)
def test_each_face_name_is_the_object_its_module_defines(package: str) -> None:
    face = face_of(package)
    assert face
    for name, module in face.items():
        served = getattr(importlib.import_module(package), name)
        assert served is getattr(importlib.import_module(f"{package}.{module}"), name), name
    assert importlib.import_module(package).__all__ == sorted(face)


@pytest.mark.parametrize("package", FACES)
def test_a_face_declares_for_mypy_exactly_the_names_it_serves(package: str) -> None:
    assert declared_for_mypy(package) == face_of(package)


@pytest.mark.parametrize("package", FACES)
def test_no_face_name_is_also_a_module_of_its_package(package: str) -> None:
    folder = ROOT / package.replace(".", "/")
    modules = {p.stem for p in folder.glob("*.py")} | {
        p.name for p in folder.iterdir() if p.is_dir()
    }
    assert sorted(set(face_of(package)) & modules) == []


def test_importing_the_packages_imports_none_of_their_faces_modules() -> None:
    probe = (
        "import json, sys\n"
        f"for p in {FACES!r}: __import__(p)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = set(json.loads(done.stdout))
    heavy = {"kubernetes", "httpx", "jsonschema", "jinja2", "tubedemo.twin.world"}
    assert sorted(heavy & loaded) == []


def test_a_name_outside_the_face_is_an_attribute_error_naming_the_package() -> None:
    getattr_ = lazy_face("tubedemo.twin", {"World": "world"})
    with pytest.raises(AttributeError, match=r"module 'tubedemo\.twin' has no attribute 'Wrold'"):
        getattr_("Wrold")
