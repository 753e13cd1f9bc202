"""The KEDA scalingModifiers formula: parse, check and evaluate the expr-lang subset it uses.

KEDA compiles the formula with expr-lang (github.com/expr-lang/expr) in its admission webhook;
a formula it rejects leaves the ScaledObject unready on stage. We check it before applying:
only expr-lang built-ins, every identifier a named trigger, a numeric result. The same AST is
evaluated by the twin's autoscaler model, so the simulator scales by the formula KEDA runs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tubedemo.core.errors import ValidationFailed

# --- AST ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Str:
    value: str


@dataclass(frozen=True)
class Const:
    """true, false or nil."""

    name: str


@dataclass(frozen=True)
class Name:
    name: str
    pos: int


@dataclass(frozen=True)
class Unary:
    op: str
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Ternary:
    cond: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple[Node, ...]
    pos: int
    source: str
    """The call's text as written, for messages that suggest a replacement."""


Node = Num | Str | Const | Name | Unary | Binary | Ternary | Call

# --- Lexer ----------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>0[xX][0-9a-fA-F_]+|(?:\d[\d_]*)?\.?\d[\d_]*(?:[eE][+-]?\d+)?)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<op>\*\*|==|!=|<=|>=|&&|\|\||\?\?|\?\.|\.\.|[-+*/%^<>!?:(),.\[\]{}|])
    """,
    re.VERBOSE,
)

_WORD_OPS = {"and": "&&", "or": "||", "not": "!", "in": "in", "matches": "matches"}


@dataclass(frozen=True)
class _Tok:
    kind: str  # num, str, name, op, end
    text: str
    pos: int


def _lex(src: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(src):
        match = _TOKEN.match(src, pos)
        if not match:
            raise FormulaError(f"unexpected character {src[pos]!r} at position {pos + 1}")
        kind = match.lastgroup or ""
        text = match.group()
        if kind != "ws":
            if kind == "name" and text in _WORD_OPS:
                tokens.append(_Tok("op", _WORD_OPS[text], pos))
            else:
                tokens.append(_Tok(kind, text, pos))
        pos = match.end()
    tokens.append(_Tok("end", "", len(src)))
    return tokens


# --- Parser (precedence climbing, expr-lang's precedence table) -----------------------------

_BINARY_PRECEDENCE: dict[str, int] = {
    "??": 1,
    "||": 2,
    "&&": 3,
    "==": 4,
    "!=": 4,
    "<": 4,
    ">": 4,
    "<=": 4,
    ">=": 4,
    "in": 4,
    "matches": 4,
    "..": 5,
    "+": 6,
    "-": 6,
    "*": 7,
    "/": 7,
    "%": 7,
    "**": 8,
    "^": 8,
}
_RIGHT_ASSOC = {"**", "^"}


class FormulaError(ValidationFailed):
    """The formula would be rejected by KEDA (or yields no number)."""


class _Parser:
    def __init__(self, src: str) -> None:
        self.src = src
        self.tokens = _lex(src)
        self.i = 0

    def peek(self) -> _Tok:
        return self.tokens[self.i]

    def take(self) -> _Tok:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, text: str) -> _Tok:
        tok = self.take()
        if tok.text != text or tok.kind not in ("op",):
            found = tok.text or "end of formula"
            raise FormulaError(f"expected {text!r} at position {tok.pos + 1}, found {found!r}")
        return tok

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise FormulaError("the formula is empty")
        node = self.ternary()
        tok = self.peek()
        if tok.kind != "end":
            raise FormulaError(f"unexpected {tok.text!r} at position {tok.pos + 1}")
        return node

    def ternary(self) -> Node:
        cond = self.binary(1)
        if self.peek().kind == "op" and self.peek().text == "?":
            self.take()
            then = self.ternary()
            self.expect(":")
            otherwise = self.ternary()
            return Ternary(cond, then, otherwise)
        return cond

    def binary(self, min_prec: int) -> Node:
        left = self.unary()
        while True:
            tok = self.peek()
            prec = _BINARY_PRECEDENCE.get(tok.text) if tok.kind == "op" else None
            if prec is None or prec < min_prec:
                return left
            self.take()
            next_min = prec if tok.text in _RIGHT_ASSOC else prec + 1
            right = self.binary(next_min)
            left = Binary(tok.text, left, right)

    def unary(self) -> Node:
        tok = self.peek()
        if tok.kind == "op" and tok.text in ("-", "+", "!"):
            self.take()
            return Unary(tok.text, self.unary())
        return self.postfix()

    def postfix(self) -> Node:
        node = self.primary()
        tok = self.peek()
        if tok.kind == "op" and tok.text in (".", "?.", "[", "|"):
            raise FormulaError(
                f"{tok.text!r} at position {tok.pos + 1}: member access, indexing and pipes have "
                "no place in a scaling formula; use trigger names and numbers"
            )
        return node

    def primary(self) -> Node:
        tok = self.take()
        if tok.kind == "num":
            text = tok.text.replace("_", "")
            value = float(int(text, 16)) if text.lower().startswith("0x") else float(text)
            return Num(value)
        if tok.kind == "str":
            return Str(tok.text[1:-1])
        if tok.kind == "name":
            if tok.text in ("true", "false", "nil"):
                return Const(tok.text)
            if self.peek().kind == "op" and self.peek().text == "(":
                return self.call(tok)
            return Name(tok.text, tok.pos)
        if tok.kind == "op" and tok.text == "(":
            node = self.ternary()
            self.expect(")")
            return node
        found = tok.text or "end of formula"
        raise FormulaError(f"expected a value at position {tok.pos + 1}, found {found!r}")

    def call(self, name: _Tok) -> Call:
        self.expect("(")
        args: list[Node] = []
        if not (self.peek().kind == "op" and self.peek().text == ")"):
            while True:
                args.append(self.ternary())
                if self.peek().kind == "op" and self.peek().text == ",":
                    self.take()
                    continue
                break
        close = self.expect(")")
        return Call(name.text, tuple(args), name.pos, self.src[name.pos : close.pos + 1])


def parse(formula: str) -> Node:
    """AST of an expr-lang formula, or FormulaError naming the position."""
    return _Parser(formula).parse()


def identifiers(node: Node) -> frozenset[str]:
    """Every identifier the formula reads (the trigger names it expects); no side effects."""
    if isinstance(node, Name):
        return frozenset({node.name})
    if isinstance(node, Unary):
        return identifiers(node.operand)
    if isinstance(node, Binary):
        return identifiers(node.left) | identifiers(node.right)
    if isinstance(node, Ternary):
        return identifiers(node.cond) | identifiers(node.then) | identifiers(node.otherwise)
    if isinstance(node, Call):
        return frozenset().union(*(identifiers(arg) for arg in node.args))
    return frozenset()


# --- Checker --------------------------------------------------------------------------------

# expr-lang built-ins that take and return numbers (the ones a scaling formula can use).
NUMERIC_BUILTINS: dict[str, tuple[int, int | None]] = {
    "abs": (1, 1),
    "ceil": (1, 1),
    "floor": (1, 1),
    "round": (1, 1),
    "int": (1, 1),
    "float": (1, 1),
    "max": (1, None),
    "min": (1, None),
}
# Other expr-lang built-ins exist (string, collection, date functions) but cannot yield the
# number the HPA needs from triggers that are numbers; they are named so the error is precise.
OTHER_BUILTINS = frozenset(
    [
        "all",
        "any",
        "one",
        "none",
        "filter",
        "map",
        "count",
        "sum",
        "find",
        "findIndex",
        "findLast",
        "findLastIndex",
        "groupBy",
        "sortBy",
        "reduce",
        "len",
        "type",
        "string",
        "trim",
        "trimPrefix",
        "trimSuffix",
        "upper",
        "lower",
        "split",
        "splitAfter",
        "replace",
        "repeat",
        "indexOf",
        "lastIndexOf",
        "hasPrefix",
        "hasSuffix",
        "now",
        "duration",
        "date",
        "timezone",
        "toJSON",
        "fromJSON",
        "first",
        "last",
        "get",
        "keys",
        "values",
        "toPairs",
        "fromPairs",
        "mean",
        "median",
        "concat",
        "flatten",
        "uniq",
        "join",
        "reverse",
        "sort",
        "bitand",
        "bitor",
        "bitxor",
        "bitnand",
        "bitnot",
        "bitshl",
        "bitshr",
        "bitushr",
    ]
)
# Functions people bring from PromQL, with the expr-lang spelling to use instead.
_PROMQL_EQUIVALENTS = {"clamp_min": "max", "clamp_max": "min"}

Kind = str  # "number", "bool", "string", "nil"


def check(formula: str, triggers: set[str] | frozenset[str]) -> Node:
    """Parse and type-check ``formula``; every identifier must name one of ``triggers``."""
    node = parse(formula)
    kind = _kind(node, triggers)
    if kind != "number":
        raise FormulaError(
            f"formula {formula!r} yields a {kind}, but KEDA needs a number; "
            "use a ternary such as `cond ? a : b` to turn a comparison into a number"
        )
    return node


def _kind(node: Node, triggers: set[str] | frozenset[str]) -> Kind:
    if isinstance(node, Num):
        return "number"
    if isinstance(node, Str):
        return "string"
    if isinstance(node, Const):
        return "nil" if node.name == "nil" else "bool"
    if isinstance(node, Name):
        if node.name not in triggers:
            known = ", ".join(sorted(triggers)) or "none"
            raise FormulaError(
                f"{node.name!r} is not a trigger name (named triggers: {known}); every "
                "identifier in the formula must be a trigger's `name`"
            )
        return "number"
    if isinstance(node, Unary):
        inner = _kind(node.operand, triggers)
        if node.op == "!":
            return _need(inner, "bool", "'!'")
        return _need(inner, "number", f"unary {node.op!r}")
    if isinstance(node, Binary):
        left, right = _kind(node.left, triggers), _kind(node.right, triggers)
        if node.op in ("+", "-", "*", "/", "%", "**", "^"):
            _need(left, "number", f"{node.op!r}")
            return _need(right, "number", f"{node.op!r}")
        if node.op in ("<", ">", "<=", ">="):
            _need(left, "number", f"{node.op!r}")
            _need(right, "number", f"{node.op!r}")
            return "bool"
        if node.op in ("==", "!="):
            return "bool"
        if node.op in ("&&", "||"):
            _need(left, "bool", f"{node.op!r}")
            _need(right, "bool", f"{node.op!r}")
            return "bool"
        if node.op == "??":
            return right if left == "nil" else left
        raise FormulaError(f"operator {node.op!r} cannot produce a scaling value")
    if isinstance(node, Ternary):
        _need(_kind(node.cond, triggers), "bool", "the ternary condition")
        then, otherwise = _kind(node.then, triggers), _kind(node.otherwise, triggers)
        if then != otherwise:
            raise FormulaError("both branches of the ternary must yield numbers")
        return then
    return _call_kind(node, triggers)


def _call_kind(node: Call, triggers: set[str] | frozenset[str]) -> Kind:
    if node.func in _PROMQL_EQUIVALENTS:
        replacement = _PROMQL_EQUIVALENTS[node.func] + node.source[len(node.func) :]
        raise FormulaError(
            f"{node.func}() is PromQL, not an expr-lang function, and KEDA rejects it; "
            f"write {replacement} instead"
        )
    if node.func in OTHER_BUILTINS:
        raise FormulaError(
            f"{node.func}() is an expr-lang built-in but not a numeric one; a scaling formula "
            f"can use {', '.join(sorted(NUMERIC_BUILTINS))}"
        )
    arity = NUMERIC_BUILTINS.get(node.func)
    if arity is None:
        raise FormulaError(
            f"{node.func}() is not an expr-lang built-in; use {', '.join(sorted(NUMERIC_BUILTINS))}"
        )
    low, high = arity
    if len(node.args) < low or (high is not None and len(node.args) > high):
        expected = str(low) if high == low else f"at least {low}"
        raise FormulaError(f"{node.func}() takes {expected} argument(s), got {len(node.args)}")
    for arg in node.args:
        _need(_kind(arg, triggers), "number", f"{node.func}()")
    return "number"


def _need(kind: Kind, wanted: Kind, where: str) -> Kind:
    if kind != wanted:
        raise FormulaError(f"{where} needs a {wanted}, got a {kind}")
    return kind


# --- Evaluator (for the twin's autoscaler model) --------------------------------------------

_FUNCS: dict[str, Callable[..., float]] = {
    "abs": abs,
    "ceil": math.ceil,
    "floor": math.floor,
    "round": round,
    "int": int,
    "float": float,
    "max": max,
    "min": min,
}


def evaluate(node: Node, values: Mapping[str, float]) -> float:
    """Value of a checked formula given each trigger's current metric value."""
    result = _eval(node, values)
    if isinstance(result, bool) or not isinstance(result, int | float):
        raise FormulaError("the formula did not yield a number")
    return float(result)


def _eval(node: Node, values: Mapping[str, float]) -> object:
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Str):
        return node.value
    if isinstance(node, Const):
        return {"true": True, "false": False, "nil": None}[node.name]
    if isinstance(node, Name):
        return float(values[node.name])
    if isinstance(node, Unary):
        inner = _eval(node.operand, values)
        return (not inner) if node.op == "!" else (-inner if node.op == "-" else inner)  # type: ignore[operator]
    if isinstance(node, Ternary):
        return _eval(node.then if _eval(node.cond, values) else node.otherwise, values)
    if isinstance(node, Call):
        return _FUNCS[node.func](*(_eval(a, values) for a in node.args))
    return _binary(node, values)


def _binary(node: Binary, values: Mapping[str, float]) -> object:
    if node.op == "&&":
        return bool(_eval(node.left, values)) and bool(_eval(node.right, values))
    if node.op == "||":
        return bool(_eval(node.left, values)) or bool(_eval(node.right, values))
    left, right = _eval(node.left, values), _eval(node.right, values)
    if node.op == "??":
        return right if left is None else left
    ops: dict[str, Callable[[object, object], object]] = {
        "+": lambda a, b: a + b,  # type: ignore[operator]
        "-": lambda a, b: a - b,  # type: ignore[operator]
        "*": lambda a, b: a * b,  # type: ignore[operator]
        "/": lambda a, b: a / b if b else math.inf,  # type: ignore[operator]
        "%": lambda a, b: math.fmod(a, b),  # type: ignore[arg-type]
        "**": lambda a, b: a**b,  # type: ignore[operator]
        "^": lambda a, b: a**b,  # type: ignore[operator]
        "<": lambda a, b: a < b,  # type: ignore[operator]
        ">": lambda a, b: a > b,  # type: ignore[operator]
        "<=": lambda a, b: a <= b,  # type: ignore[operator]
        ">=": lambda a, b: a >= b,  # type: ignore[operator]
        "==": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
    }
    return ops[node.op](left, right)
