"""The maps are true: each package's ``__init__`` docstring names every module it holds and no
module it does not, and the README's "Where things live" names every package and no file that
is gone. A newcomer reads these first; a module moved without its map fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "tubedemo"
README = ROOT / "README.md"

MODULES_HEADING = re.compile(r"^Modules\b[^:\n]*:", re.M)
"""The paragraph of a package docstring that lists its modules, each as ``name``: it starts
with "Modules:" (or "Modules, by job:") at the start of a line."""


def packages() -> list[Path]:
    return sorted(p.parent for p in PACKAGE.rglob("__init__.py") if p.parent != PACKAGE)


def modules_of(package: Path) -> set[str]:
    """The package's own modules and subpackages (not theirs)."""
    files = {p.stem for p in package.glob("*.py") if p.name != "__init__.py"}
    subpackages = {p.name for p in package.iterdir() if (p / "__init__.py").is_file()}
    return files | subpackages


def docstring_of(package: Path) -> str:
    return ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8"))) or ""


def named_in(docstring: str) -> set[str]:
    """The modules a docstring's "Modules:" paragraph names: each ``name`` outside parentheses,
    up to the paragraph's blank line (what stands in parentheses describes the module before)."""
    heading = MODULES_HEADING.search(docstring)
    if heading is None:
        return set()
    paragraph = docstring[heading.end() :].split("\n\n", 1)[0]
    top_level, depth = [], 0
    for char in paragraph:
        depth += {"(": 1, ")": -1}.get(char, 0)
        top_level.append(char if depth == 0 else " ")
    return set(re.findall(r"``([a-z_][a-z0-9_]*)``", "".join(top_level)))


def where_things_live() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("### Where things live\n", 1)[1].split("\n### ", 1)[0]
    return section.split("```", 2)[1]


@pytest.mark.parametrize("package", packages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_package_docstring_names_each_of_its_modules_and_no_other(package: Path) -> None:
    docstring = docstring_of(package)
    assert MODULES_HEADING.search(docstring), f"{package.name}/__init__.py has no Modules: list"
    named = named_in(docstring)
    present = modules_of(package)
    assert sorted(present - named) == [], "modules the docstring does not name"
    assert sorted(named - present) == [], "names in the docstring that are not modules"


def test_the_readme_map_names_every_package_and_only_files_that_exist() -> None:
    map_text = where_things_live()
    top_level = {p.name for p in packages() if p.parent == PACKAGE}
    # a map entry starts at the left margin; its first column names the packages it is about
    entries = [line.split("  ", 1)[0] for line in map_text.splitlines() if line[:1].isalpha()]
    named = {name for entry in entries for name in re.findall(r"\b([a-z_]+)/(?![\w.])", entry)}
    named_packages = named - {"gateway"}  # the service beside tubedemo/, on the map's last line
    assert sorted(top_level - named_packages) == [], "packages the map leaves out"
    assert sorted(named_packages - top_level) == [], "packages in the map that do not exist"
    for path in re.findall(r"[a-z_]+/[a-z_/]*[a-z_]+\.py", map_text):
        folder = ROOT if path.startswith("tubedemo/") else PACKAGE
        assert (folder / path).is_file(), f"the map names {path}, which does not exist"


def test_the_map_checker_reads_the_top_level_names_of_a_modules_paragraph() -> None:
    docstring = "Pure.\n\nModules: ``a`` (x for ``cmd``), ``b_c``\n(not ``e``).\n\n``d`` later."
    assert named_in(docstring) == {"a", "b_c"}
    assert named_in("Modules, by job: ``e`` (one), ``f``.") == {"e", "f"}
    assert named_in("Reads ``g``. Modules: none here") == set()
