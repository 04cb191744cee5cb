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


def without_null_deltas(expr: sp.Expr, variables) -> sp.Expr:
    """``expr`` without its terms ``c * DiracDelta(u)`` whose coefficient ``c`` (collected over all
    terms with the same delta) vanishes where ``u = 0``, and with ``Heaviside(u)^k`` as
    ``Heaviside(u)``.

    Differentiating a loss written with ``max``, ``abs`` or comparisons makes such terms: the
    square hinge ``max(0, 1 - y h)^2 / 2`` gives ``y^2 DiracDelta(1 - y h) max(0, 1 - y h)`` in its
    curvature, which is 0 wherever the delta is not, and the Huber loss, continuous with a
    continuous gradient, gives deltas at ``|h - y| = delta`` multiplied by its jump there, 0. Where
    the coefficient does not vanish (the hinge's kink) the delta stays: the derivative does not
    exist pointwise and the responses need Stein's lemma (docs/math/gaussian_data.md §4). The
    coefficient is tested at the roots of ``u`` in one of ``variables``, at random values of the
    other symbols (parameters positive, as the widths and margins of such losses are)."""
    expr = expr.replace(
        lambda e: e.is_Pow and isinstance(e.base, sp.Heaviside) and e.exp.is_Integer and e.exp > 0,
        lambda e: e.base,
    )
    if not expr.has(sp.DiracDelta):
        return expr
    kept, groups = [], {}
    for term in sp.Add.make_args(sp.expand(expr)):
        deltas = [f for f in sp.Mul.make_args(term) if isinstance(f, sp.DiracDelta)]
        if len(deltas) != 1 or len(deltas[0].args) != 1:  # products of deltas, derivatives: kept
            kept.append(term)
            continue
        u = deltas[0].args[0]
        u = -u if u.could_extract_minus_sign() else u  # DiracDelta is even
        groups[u] = groups.get(u, sp.Integer(0)) + term / deltas[0]
    for u, coefficient in groups.items():
        if not _vanishes_where_zero(coefficient, u, variables):
            kept.append(coefficient * sp.DiracDelta(u))
    return sp.Add(*kept)


def _vanishes_where_zero(coefficient: sp.Expr, u: sp.Expr, variables) -> bool:
    for v in (v for v in variables if u.has(v)):
        roots = _real_roots(u, v)
        if roots and all(_zero_at_random_points(coefficient.subs(v, root), variables) for root in roots):
            return True
    return False


def _real_roots(u: sp.Expr, v: sp.Symbol) -> list:
    """The roots of ``u`` in ``v``; an ``abs`` is split into its two branches."""
    branches = [u]
    for a in u.atoms(sp.Abs):
        branches = [b.subs(a, sign * a.args[0]) for b in branches for sign in (1, -1)]
    roots = []
    for branch in branches:
        try:
            roots += [r for r in sp.solve(branch, v) if r.is_real is not False]
        except NotImplementedError:
            return []
    return roots


def _zero_at_random_points(expr: sp.Expr, variables, points: int = 12) -> bool:
    """|expr| < 1e-12 at random points: ``variables`` standard normal, other symbols (parameters)
    uniform on (0.5, 2)."""
    import numpy as np

    symbols = sorted(expr.free_symbols, key=sp.default_sort_key)
    rng = np.random.default_rng(1)
    for _ in range(points):
        point = {s: sp.Float(rng.normal() if s in variables else rng.uniform(0.5, 2.0)) for s in symbols}
        value = complex(expr.evalf(subs=point))
        if not abs(value) < 1e-12:
            return False
    return True
