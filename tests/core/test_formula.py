"""The KEDA formula checker accepts what expr-lang compiles to a number and nothing else."""

from __future__ import annotations

import pytest

from tubedemo.core.formula import FormulaError, check, evaluate

TRIGGERS = frozenset({"queue", "running", "waiting"})


@pytest.mark.parametrize(
    ("formula", "values", "expected"),
    [
        ("max(queue * 50, 1)", {"queue": 0}, 1),
        ("max(queue * 50, 1)", {"queue": 3}, 150),
        ("running + (waiting * 10)", {"running": 2, "waiting": 3}, 32),
        ("queue > 2 ? queue * 2 : 1", {"queue": 3}, 6),
        ("min(ceil(queue / 4), 10)", {"queue": 9}, 3),
        ("2 ** 3 ^ 2", {}, 512),  # right-associative power, as in expr-lang
        ("-queue + 10 % 4", {"queue": 1}, 1),
    ],
)
def test_good_formulas_check_and_evaluate(formula: str, values: dict, expected: float) -> None:
    node = check(formula, TRIGGERS)
    assert evaluate(node, {"queue": 0, "running": 0, "waiting": 0, **values}) == expected


def test_clamp_min_is_rejected_with_the_max_spelling() -> None:
    with pytest.raises(FormulaError) as caught:
        check("clamp_min(queue * 50, 1)", TRIGGERS)
    assert "write max(queue * 50, 1) instead" in caught.value.message


@pytest.mark.parametrize(
    ("formula", "fragment"),
    [
        ("clamp_max(queue, 10)", "write min(queue, 10) instead"),
        ("queue * 50 + pending", "'pending' is not a trigger name"),
        ("queue > 1", "yields a bool"),
        ("sqrt(queue)", "sqrt() is not an expr-lang built-in"),
        ("len(queue)", "not a numeric one"),
        ("max(queue", "expected ')'"),
        ("queue.value", "member access"),
        ("", "empty"),
        ("queue @ 2", "unexpected character '@'"),
        ('max("a", 1)', "max() needs a number, got a string"),
        ("queue > 1 ? 1 : false", "both branches"),
        ("true + 1", "'+' needs a number, got a bool"),
    ],
)
def test_bad_formulas_say_what_is_wrong(formula: str, fragment: str) -> None:
    with pytest.raises(FormulaError) as caught:
        check(formula, TRIGGERS)
    assert fragment in caught.value.message
