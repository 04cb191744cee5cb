"""Predicates on sympy expressions that decide which solver applies (exact closures need
affine site maps and quadratic observables)."""

from __future__ import annotations

import sympy as sp


def is_affine(expr: sp.Expr, variables) -> bool:
    """``expr`` is ``a + Σ b_i v_i`` with ``a``, ``b_i`` free of the variables."""
    variables = list(variables)
    if not expr.free_symbols & set(variables):
        return True
    if not expr.is_polynomial(*variables):
        return False
    return all(not (sp.diff(expr, v).free_symbols & set(variables)) for v in variables)


def is_quadratic(expr: sp.Expr, variables) -> bool:
    variables = list(variables)
    if not expr.is_polynomial(*variables):
        return False
    return all(is_affine(sp.diff(expr, v), variables) for v in variables)
