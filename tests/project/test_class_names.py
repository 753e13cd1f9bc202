"""Rooms named once: no two classes of tubedemo share a name, so a name in a traceback, a review
or a conversation points at one thing (two ``TalkClock`` with two meanings, or a twin ``Frame``
beside the dashboard's, each read as the other). gateway/ is its own package and image and keeps
its own names."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "tubedemo"


def top_level_classes(source: str) -> list[str]:
    return [node.name for node in ast.parse(source).body if isinstance(node, ast.ClassDef)]


def test_no_two_tubedemo_classes_share_a_name() -> None:
    where: dict[str, list[str]] = defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        for name in top_level_classes(path.read_text(encoding="utf-8")):
            where[name].append(str(path.relative_to(PACKAGE.parent)))
    assert {name: paths for name, paths in where.items() if len(paths) > 1} == {}


def test_the_scan_sees_top_level_classes_only() -> None:
    source = "class A:\n    class Inner: ...\n\nclass B(A): ...\n\ndef f():\n    class C: ...\n"
    assert top_level_classes(source) == ["A", "B"]
