"""Model expressions -> sympy, node by node (user text never reaches ``sympify`` or ``eval``).

The math functions of docs/language.md §5 map to sympy functions; ``sigmoid``, ``softplus`` and
``relu`` are sympy ``Function`` subclasses with their derivatives, so that they print as
themselves in derivations and generated code. Comparisons become Heaviside steps (0/1), whose
derivative (a DiracDelta) marks an expression as not differentiable pointwise.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp

from dmftc.errors import Location, ModelError, did_you_mean
from dmftc.language import nodes as n


class sigmoid(sp.Function):
    """The logistic function 1 / (1 + exp(-x))."""

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + sp.exp(-x))


class softplus(sp.Function):
    """log(1 + exp(x)), evaluated stably in generated code."""

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return sp.log(1 + sp.exp(x))


class relu(sp.Function):
    """max(x, 0)."""

    def fdiff(self, argindex=1):
        return sp.Heaviside(self.args[0], 0)

    @classmethod
    def eval(cls, x):
        if x.is_number:
            return sp.Max(x, 0)


def _fixed(arity: int, make: Callable):
    return arity, make


# name -> (number of arguments, or -1 for two or more; constructor)
MATH_FUNCTIONS: dict[str, tuple[int, Callable]] = {
    "exp": _fixed(1, sp.exp),
    "log": _fixed(1, sp.log),
    "sqrt": _fixed(1, sp.sqrt),
    "abs": _fixed(1, sp.Abs),
    "sign": _fixed(1, sp.sign),
    "tanh": _fixed(1, sp.tanh),
    "erf": _fixed(1, sp.erf),
    "sigmoid": _fixed(1, sigmoid),
    "relu": _fixed(1, relu),
    "softplus": _fixed(1, softplus),
    "min": _fixed(-1, sp.Min),
    "max": _fixed(-1, sp.Max),
}

# Functions that exist only in some statements, with where they belong (for error messages).
SPECIAL_FUNCTIONS = {
    "grad": "inside update: or flow:",
    "gauss": "inside update: or flow:",
    "normal": "in the law after '~'",
    "uniform": "in the law after '~'",
    "rademacher": "in the law after '~'",
    "train": "in an observe statement",
    "test": "in an observe statement",
    "mean": "in an observe statement",
    "transpose": "as X' . v (a matrix of a matrix program, transposed) in update: or flow:",
    "energy": "in an observe statement",
}


def comparison(op: str, a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """``a op b`` as a 0/1 expression."""
    if op == "<":
        return sp.Heaviside(b - a, 0)
    if op == "<=":
        return sp.Heaviside(b - a, 1)
    if op == ">":
        return sp.Heaviside(a - b, 0)
    if op == ">=":
        return sp.Heaviside(a - b, 1)
    cond = sp.Eq(a, b) if op == "==" else sp.Ne(a, b)
    return sp.Piecewise((1, cond), (0, True))


# A literal longer than this, or beyond 1e±300, is refused: exact rationals of such numbers (and
# powers of them) cost unbounded time and memory, and no model needs them.
MAX_NUMBER_CHARS = 40
MAX_POWER_BITS = 100_000  # numeric powers whose exact value would need more bits are refused


def _magnitude(text: str) -> float:
    """The power of ten of a literal's leading digit (inf for an exponent decimal cannot hold)."""
    try:
        return decimal.Decimal(text).adjusted()
    except decimal.InvalidOperation:
        return math.inf


def number(e: n.Number) -> sp.Expr:
    """A literal as an exact rational (``0.05`` -> 1/20), so derivations print exactly."""
    if len(e.text) > MAX_NUMBER_CHARS or not -300 <= _magnitude(e.text) <= 300:
        raise ModelError(
            f"the number '{e.text[:MAX_NUMBER_CHARS]}' is out of range",
            e.loc,
            kind="bad-number",
            hint=f"numbers are at most {MAX_NUMBER_CHARS} characters long and between 1e-300 and 1e300 in size",
        )
    return sp.Rational(e.text)


def _power(e: n.Binary, base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
    """``base^exponent``, refusing numeric powers too large to evaluate exactly."""
    if base.is_number and exponent.is_number:
        bits = max(base.p.bit_length(), base.q.bit_length()) if base.is_Rational else 64
        if abs(exponent) * bits > MAX_POWER_BITS:
            raise ModelError(f"'{n.format_expr(e)}' is too large to evaluate exactly", e.op_loc, kind="bad-number")
    return base**exponent


@dataclass(frozen=True)
class Definition:
    """What the name of ``let NAME = expr`` resolves to: its expression, converted anew where the
    name is used, by the resolver and special calls of that place (a macro)."""

    name: str
    expr: n.Expr
    loc: Location


NameResolver = Callable[[n.Name], "sp.Expr | Definition"]
SpecialHandler = Callable[[n.Call | n.GradAt, Callable[[n.Expr], sp.Expr]], sp.Expr]


def to_sympy(expr: n.Expr, resolve: NameResolver, special: dict[str, SpecialHandler] | None = None) -> sp.Expr:
    """Build the sympy expression of ``expr``.

    ``resolve`` maps a name to its value, or to a :class:`Definition` whose expression is
    converted in its place, or raises; ``special`` handles the context's special calls
    (``grad``, ``normal``, ``train``, ...). A constant part that is not a finite real number
    (``log(0)``, ``(-1)^0.5``) is an error at the operator or call that makes it.
    """
    special = special or {}

    def convert(e: n.Expr) -> sp.Expr:
        value = convert_node(e)
        if value.is_number and (value.is_real is False or value.has(sp.nan)):
            where = e.op_loc if isinstance(e, n.Binary) else e.loc
            raise ModelError(f"'{n.format_expr(e)}' is not a finite real number", where, kind="bad-number")
        return value

    def convert_node(e: n.Expr) -> sp.Expr:
        match e:
            case n.Number():
                return number(e)
            case n.Name():
                value = resolve(e)
                return expand(value, e) if isinstance(value, Definition) else value
            case n.Unary():
                return -convert(e.operand)
            case n.Binary(op=".", left=n.Number(), right=n.Number()):  # 1.2.3 lexes as 1.2 . 3
                raise ModelError(
                    f"malformed number '{e.left.text}.{e.right.text}'",
                    e.left.loc,
                    kind="malformed-number",
                    hint="a number has at most one decimal point",
                )
            case n.Binary(op=".") if "." in special:  # the matrix product of a linear system
                return special["."](e, convert)
            case n.Binary(op="."):
                raise ModelError(
                    "'.' (a product) belongs only in 'predict h = x . e' (the data vector x) or, in a "
                    "matrix program, inside update: or flow: (A . v)",
                    e.op_loc,
                    kind="misplaced-dot",
                    hint="to observe a matrix product, name it in the update or flow (a = W' . w) and use the name",
                )
            case n.Binary(op="+" | "-" | "*" | "/"):
                return _chain(e, convert)
            case n.Binary():
                a, b = convert(e.left), convert(e.right)
                if e.op == "+":
                    return a + b
                if e.op == "-":
                    return a - b
                if e.op == "*":
                    return a * b
                if e.op == "/":
                    if b == 0:
                        raise ModelError("division by zero", e.op_loc, kind="division-by-zero")
                    return a / b
                if e.op == "^":
                    return _power(e, a, b)
                return comparison(e.op, a, b)
            case n.GradAt():
                if e.func in special:
                    return special[e.func](e, convert)
                if e.func in ("grad", "test"):
                    raise ModelError(
                        f"{e.func}() can only be used {SPECIAL_FUNCTIONS[e.func]}", e.loc, kind="misplaced-function"
                    )
                raise ModelError(
                    f"'at' is only used in grad(weight at point) and test(e at v), not in {e.func}()",
                    e.loc,
                    kind="misplaced-at",
                )
            case n.Call():
                if e.func in special:
                    return special[e.func](e, convert)
                if e.func in MATH_FUNCTIONS:
                    return _math_call(e, convert)
                if e.func in SPECIAL_FUNCTIONS:
                    raise ModelError(
                        f"{e.func}() can only be used {SPECIAL_FUNCTIONS[e.func]}", e.loc, kind="misplaced-function"
                    )
                known = list(MATH_FUNCTIONS) + list(special)
                raise ModelError(
                    f"unknown function '{e.func}'",
                    e.loc,
                    kind="unknown-function",
                    hint=did_you_mean(e.func, known) or "functions: " + ", ".join(sorted(MATH_FUNCTIONS)),
                )
        raise TypeError(f"not an expression node: {e!r}")

    expanded: dict[str, sp.Expr] = {}  # each definition once per call: nested ones cost linear time

    def expand(d: Definition, use: n.Name) -> sp.Expr:
        if d.name not in expanded:
            try:
                expanded[d.name] = convert(d.expr)
            except ModelError as err:
                raise _through(err, d, use.loc) from None
        return expanded[d.name]

    return convert(expr)


def _through(err: ModelError, d: Definition, use: Location) -> ModelError:
    """An error inside an expanded definition, moved to where the definition is used."""
    chain = [d, *getattr(err, "definitions", ())]
    base = getattr(err, "base_message", err.message)
    names = ", which uses ".join(f"'{c.name}' (line {c.loc.line})" for c in chain)
    moved = type(err)(f"{base}, through the definition of {names}", use, kind=err.kind, hint=err.hint)
    moved.definitions, moved.base_message = chain, base
    return moved


def _chain(e: n.Binary, convert) -> sp.Expr:
    """A chain ``a + b - c + ...`` (or ``a * b / c ...``) left-associated as parsed, converted
    without recursing along it (a sum of thousands of terms is a tree that deep) and summed at
    once (sympy builds an n-term sum in n log n, one term at a time in n^2)."""
    additive = e.op in "+-"
    ops = "+-" if additive else "*/"
    links = []
    while isinstance(e, n.Binary) and e.op in ops:
        links.append(e)
        e = e.left
    parts = [convert(e)]
    for link in reversed(links):
        b = convert(link.right)
        if link.op == "/":
            if b == 0:
                raise ModelError("division by zero", link.op_loc, kind="division-by-zero")
            b = 1 / b
        parts.append(-b if link.op == "-" else b)
    return sp.Add(*parts) if additive else sp.Mul(*parts)


def _math_call(e: n.Call, convert) -> sp.Expr:
    arity, make = MATH_FUNCTIONS[e.func]
    if e.keywords:
        raise ModelError(f"{e.func}() takes no keyword arguments", e.keywords[0].loc, kind="bad-arguments")
    if arity == -1 and len(e.args) < 2:
        raise ModelError(f"{e.func}() takes two or more arguments", e.loc, kind="bad-arguments")
    if arity >= 0 and len(e.args) != arity:
        raise ModelError(
            f"{e.func}() takes {arity} argument{'s' if arity != 1 else ''}, got {len(e.args)}",
            e.loc,
            kind="bad-arguments",
        )
    return make(*[convert(a) for a in e.args])


def expect_arguments(call: n.Call, count: int, what: str) -> None:
    """Check a special call's positional arity (no keywords)."""
    if call.keywords:
        raise ModelError(f"{call.func}() takes no keyword arguments", call.keywords[0].loc, kind="bad-arguments")
    if len(call.args) != count:
        raise ModelError(
            f"{call.func}() takes {what}, got {len(call.args)} argument{'s' if len(call.args) != 1 else ''}",
            call.loc,
            kind="bad-arguments",
        )
