"""No import cycles: no module of tubedemo or gateway reaches itself through its imports.

Every import statement counts, those inside functions and under ``TYPE_CHECKING`` too (grimp,
import-linter's graph builder, reads them all from the source): a late import inside a function
holds a cycle up at run time, it does not remove it. import-linter's ``acyclic_siblings``
contract does not see a package that imports its own submodules while they import it, so the
strongly connected parts of the whole graph are computed here.
"""

from __future__ import annotations

import grimp

ROOTS = ("tubedemo", "gateway")

KNOWN: dict[tuple[str, ...], str] = {}
"""Cycles found and not yet broken, each with why and who breaks it. The test fails when one of
these is gone too, so the entry leaves with the cycle."""


def cycles(imports: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other, directly or not (Tarjan's strongly
    connected components, without recursion), each sorted, largest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for root in sorted(imports):
        if root in index:
            continue
        work = [(root, iter(sorted(imports.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(imports.get(target, ())))))
                elif target in on_stack:
                    low[module] = min(low[module], index[target])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[module])
            if low[module] == index[module]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == module:
                        break
                if len(group) > 1 or module in imports.get(module, ()):
                    found.append(sorted(group))
    return sorted(found, key=lambda g: (-len(g), g))


def test_no_module_reaches_itself_through_its_imports() -> None:
    graph = grimp.build_graph(*ROOTS, cache_dir=None)
    ours = {m for m in graph.modules if m.split(".")[0] in ROOTS}
    imports = {m: graph.find_modules_directly_imported_by(m) & ours for m in ours}
    found = [
        " <-> ".join(group)
        + "".join(
            f"\n    {a} imports {b} (line "
            + ", ".join(
                str(d["line_number"]) for d in graph.get_import_details(importer=a, imported=b)
            )
            + ")"
            for a in group
            for b in sorted(imports[a] & set(group))
        )
        for group in cycles(imports)
        if tuple(group) not in KNOWN
    ]
    assert found == [], "import cycles:\n" + "\n".join(found)
    still_there = {tuple(group) for group in cycles(imports)}
    assert sorted(set(KNOWN) - still_there) == [], "broken cycles: remove them from KNOWN"


def test_the_cycle_finder_finds_a_cycle_through_a_package_and_ignores_a_chain() -> None:
    imports = {
        "p": {"p.a"},  # a package importing its submodule ...
        "p.a": {"p", "q"},  # ... which imports the package back
        "q": {"r"},
        "r": set(),
        "s": {"s"},
    }
    assert cycles(imports) == [["p", "p.a"], ["s"]]
