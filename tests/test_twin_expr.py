"""The twin's formula evaluator: the KEDA subset, expr-lang semantics, one-line refusals."""

from __future__ import annotations

import pytest

from tubedemo.twin import TwinError
from tubedemo.twin.expr import compile_formula


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("max(queue * 50, 1)", {"queue": 0}, 1.0),
        ("max(queue * 50, 1)", {"queue": 3}, 150.0),
        ("running + (waiting * 10)", {"running": 8, "waiting": 2}, 28.0),
        ("ceil(queue / 4)", {"queue": 5}, 2.0),
        ("floor(queue / 4) + abs(-2)", {"queue": 5}, 3.0),
        ("min(queue, 10) % 3", {"queue": 7}, 1.0),
        ("-queue + 3", {"queue": 1}, 2.0),
        ("queue / 2", {"queue": 3}, 1.5),
    ],
)
def test_formula_evaluates_like_keda(text: str, values: dict[str, float], expected: float) -> None:
    assert compile_formula(text)(values) == expected


def test_formula_names_are_the_triggers_it_reads() -> None:
    assert compile_formula("max(running + waiting * 10, 1)").names == {"running", "waiting"}


@pytest.mark.parametrize(
    "text",
    ["clamp_min(queue * 50, 1)", "queue ** 2", "queue if queue else 1", "'a'", "queue.x", "q["],
)
def test_formula_outside_the_subset_is_refused_in_one_line(text: str) -> None:
    with pytest.raises(TwinError) as err:
        compile_formula(text)
    assert "\n" not in err.value.message


def test_unknown_trigger_at_evaluation_names_it() -> None:
    with pytest.raises(TwinError, match="'queue'"):
        compile_formula("queue * 2")({"waiting": 1})
