"""Evaluate a KEDA scalingModifiers formula over trigger values, for the twin's autoscaler.

Only the subset the formula checker allows: numbers, trigger names, ``+ - * / %``, unary minus,
parentheses and ``max min abs ceil floor``. The text is parsed with Python's own ``ast`` (the
subset's grammar and precedence coincide with expr-lang's), and anything outside the subset is
refused with a one-line message. Semantics follow expr-lang: ``/`` is always float division,
``%`` needs integers, ``ceil``/``floor`` return floats.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tubedemo.twin import TwinError

Number = int | float

_FUNCTIONS: dict[str, Callable[..., Number]] = {
    "max": max,
    "min": min,
    "abs": abs,
    "ceil": lambda x: float(math.ceil(x)),
    "floor": lambda x: float(math.floor(x)),
}
_ARITY = {"max": (1, 99), "min": (1, 99), "abs": (1, 1), "ceil": (1, 1), "floor": (1, 1)}


@dataclass(frozen=True)
class Formula:
    """A checked formula; ``names`` are the trigger names it reads."""

    text: str
    tree: ast.expr
    names: frozenset[str]

    def __call__(self, values: Mapping[str, float]) -> float:
        return float(_eval(self.tree, values))


def compile_formula(text: str) -> Formula:
    """Parse and check ``text``; TwinError names the first construct outside the subset."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise TwinError(f"formula {text!r}: not an expression ({exc.msg})") from None
    names: set[str] = set()
    for node in ast.walk(tree):
        _check(node, text, names)
    return Formula(text, tree, frozenset(names))


def _check(node: ast.AST, text: str, names: set[str]) -> None:
    allowed = (
        ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Call, ast.Load,
        ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Mod, ast.USub, ast.UAdd,
    )  # fmt: skip
    if not isinstance(node, allowed):
        raise TwinError(f"formula {text!r}: {type(node).__name__} is not supported by the twin")
    if isinstance(node, ast.Constant) and (
        isinstance(node.value, bool) or not isinstance(node.value, int | float)
    ):
        raise TwinError(f"formula {text!r}: only numbers are allowed as literals")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
            raise TwinError(f"formula {text!r}: only max, min, abs, ceil, floor can be called")
        low, high = _ARITY[node.func.id]
        if node.keywords or not low <= len(node.args) <= high:
            raise TwinError(f"formula {text!r}: wrong arguments to {node.func.id}()")
    if isinstance(node, ast.Name) and node.id not in _FUNCTIONS:
        names.add(node.id)


def _eval(node: ast.expr, values: Mapping[str, float]) -> Number:
    if isinstance(node, ast.Constant):
        value = node.value
        assert isinstance(value, int | float)
        return value
    if isinstance(node, ast.Name):
        if node.id not in values:
            raise TwinError(f"formula reads {node.id!r}, which is not a trigger name")
        return values[node.id]
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, values)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        left = _eval(node.left, values)
        right = _eval(node.right, values)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        if isinstance(node.op, ast.Div):
            if right == 0:
                return math.copysign(math.inf, left) if left else math.nan
            return left / right
        if not (float(left).is_integer() and float(right).is_integer()):
            raise TwinError("formula: % needs whole numbers")
        if right == 0:
            raise TwinError("formula: % by zero")
        return math.fmod(int(left), int(right))
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        args = [_eval(arg, values) for arg in node.args]
        return _FUNCTIONS[node.func.id](*args)
    raise TwinError(f"formula: {type(node).__name__} is not supported")
