"""Emitting generated functions: sympy expressions -> lines of Python, with shared
subexpressions hoisted and the sympy expression of each assignment above it as a comment."""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from dmftc.codegen.printer import NameTable, NumbaPrinter
from dmftc.codegen.stable import stable


@dataclass
class Function:
    """One generated function: a signature, a docstring and body lines."""

    name: str
    args: list[str]
    doc: str
    lines: list[str] = field(default_factory=list)
    decorator: str = "@jit"


class Emitter:
    """Prints sympy expressions into the lines of generated functions."""

    def __init__(self, names: NameTable, params: list[tuple[sp.Symbol, int]]):
        self.names = names
        self.printer = NumbaPrinter(names)
        self.params = params  # (symbol, index into the params array)

    def code(self, expr) -> str:
        return self.printer.doprint(sp.sympify(expr))

    def unpack_params(self, exprs) -> list[str]:
        """``lr = params[1]`` for every parameter the expressions use."""
        used = set()
        for e in exprs:
            used |= sp.sympify(e).free_symbols
        return [f"{self.names[s]} = params[{i}]" for s, i in self.params if s in used]

    def assign(
        self, targets: list[str], exprs: list[sp.Expr], comments: list[str] | None = None, sparse: bool = False
    ) -> list[str]:
        """Assignments ``target = expr`` with common subexpressions hoisted, each annotated
        with the sympy expression it computes. ``sparse``: the targets are entries of arrays
        (``A[0, 1]``): each array is zeroed first and only its nonzero entries are assigned, so
        that the code of a Jacobian grows with its nonzeros, not with its size."""
        lines = []
        if sparse:
            arrays = dict.fromkeys(target.split("[")[0] for target in targets)
            lines += [f"{array}[...] = 0.0" for array in arrays]
            kept = [i for i, e in enumerate(exprs) if sp.sympify(e) != 0]
            targets, exprs = [targets[i] for i in kept], [exprs[i] for i in kept]
            comments = [comments[i] for i in kept] if comments else None
        exprs = [sp.sympify(e) for e in exprs]
        temporaries = sp.numbered_symbols("_c")
        shared, reduced = sp.cse([stable(e) for e in exprs], symbols=temporaries, optimizations=None)
        for sym, value in shared:
            self.names.add(sym, str(sym))
            lines.append(f"{self.names[sym]} = {self.code(value)}")
        for i, (target, expr, short) in enumerate(zip(targets, exprs, reduced)):
            comment = comments[i] if comments else f"{target} = {sp.sstr(expr)}"
            if comment:
                lines.append(f"# {comment}")
            lines.append(f"{target} = {self.code(short)}")
        return lines


def affine_entries(exprs, variables, target: str) -> tuple[list[str], list[sp.Expr]]:
    """Each expression as an affine map of ``variables``: entry ``target.format(i, 0)`` is the
    constant term of expression i, ``target.format(i, j)`` the coefficient of variable j (from 1)."""
    zero = {v: 0 for v in variables}
    targets, entries = [], []
    for i, e in enumerate(exprs):
        targets.append(target.format(i, 0))
        entries.append(e.subs(zero))
        for j, v in enumerate(variables, start=1):
            targets.append(target.format(i, j))
            entries.append(sp.diff(e, v))
    return targets, entries


def quadratic_entries(exprs, variables, Q: str = "Q", l: str = "l", c: str = "c") -> tuple[list[str], list[sp.Expr]]:
    """Each expression a as v'Q[a]v + l[a]'v + c[a] in ``variables`` v (a polynomial of degree at
    most 2): the entries of the arrays named ``Q``, ``l`` and ``c``."""
    zero = {v: 0 for v in variables}
    targets, entries = [], []
    for a, e in enumerate(exprs):
        for i, vi in enumerate(variables):
            for j, vj in enumerate(variables):
                entries.append(sp.diff(e, vi, vj) / 2)
                targets.append(f"{Q}[{a}, {i}, {j}]")
            entries.append(sp.diff(e, vi).subs(zero))
            targets.append(f"{l}[{a}, {i}]")
        entries.append(e.subs(zero))
        targets.append(f"{c}[{a}]")
    return targets, entries
