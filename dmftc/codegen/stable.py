"""Numerically stable forms of expressions before they are printed as code.

sympy writes the logistic loss and its derivatives with ``exp`` of the margin, which overflows
in floating point long before the values themselves do: ``log(1 + exp(4000))`` is 4000, but
``exp(4000)`` is inf. Before printing, every expression is rewritten (the comment above each
generated assignment keeps the form it was derived in):

* ``log(1 + exp(u))`` -> ``softplus(u)`` (printed as ``max(u, 0) + log1p(exp(-|u|))``);
* ``exp(k u) / (1 + exp(u))^m`` with integers ``0 <= k <= m`` -> ``sigmoid(u)^k sigmoid(-u)^(m-k)``,
  which covers the derivatives of both (``sigmoid`` is evaluated without overflow);
* a sum with ``sigmoid(u)`` is factored, and ``1 - sigmoid(u)`` becomes ``sigmoid(-u)``: the
  curvature ``s - s^2`` of the logistic loss is ``sigmoid(u) sigmoid(-u)``, which keeps its
  digits where ``s`` rounds to 1 (at a margin of 40, ``s - s^2`` would be 0 instead of 4e-18);
* ``log(1 + x)`` is printed as ``log1p(x)`` (:class:`dmftc.codegen.printer.NumbaPrinter`).
"""

from __future__ import annotations

import sympy as sp

from dmftc.language.expressions import sigmoid, softplus


def stable(expr: sp.Expr) -> sp.Expr:
    """``expr`` with the overflow-prone forms above replaced (equal as functions)."""
    if expr.is_Atom:
        return expr
    if isinstance(expr, (sp.Mul, sp.Pow)):  # before its factors are rewritten one by one
        expr = _sigmoids(expr)
        if expr.is_Atom:
            return expr
    args = tuple(stable(a) for a in expr.args)
    if args != expr.args:
        expr = expr.func(*args)
    if isinstance(expr, sp.log):
        u = _exponent_of_one_plus_exp(expr.args[0])
        if u is not None:
            return softplus(u)
    if isinstance(expr, sp.Add) and expr.has(sigmoid):
        return _complements(expr)
    return expr


def _complements(expr: sp.Add) -> sp.Expr:
    """Factor a sum as a polynomial in its sigmoids, writing 1 - sigmoid(u) as sigmoid(-u)."""
    calls = sorted(expr.atoms(sigmoid), key=sp.default_sort_key)
    dummies = [sp.Dummy(f"s{i}") for i in range(len(calls))]
    poly = expr.subs(dict(zip(calls, dummies)))
    if poly.has(sigmoid):  # a sigmoid inside another function: leave the sum alone
        return expr
    factored = sp.factor(poly)
    back = {}
    for call, s in zip(calls, dummies):
        back[s - 1] = -sigmoid(-call.args[0])
        back[1 - s] = sigmoid(-call.args[0])
    factored = factored.xreplace({f: back[f] for f in factored.atoms(sp.Add) if f in back})
    factored = factored.xreplace(dict(zip(dummies, calls)))
    return factored if not factored.has(*dummies) else expr


def _exponent_of_one_plus_exp(expr: sp.Expr) -> sp.Expr | None:
    """``u`` when ``expr`` is ``1 + exp(u)``, else None."""
    if isinstance(expr, sp.Add) and len(expr.args) == 2 and sp.S.One in expr.args:
        other = next(a for a in expr.args if a != sp.S.One)
        if isinstance(other, sp.exp):
            return other.args[0]
    return None


def _sigmoids(term: sp.Expr) -> sp.Expr:
    factors = list(sp.Mul.make_args(term))
    changed = False
    for i, factor in enumerate(factors):
        base, power = factor.as_base_exp()
        u = _exponent_of_one_plus_exp(base)
        if u is None or not (power.is_Integer and power < 0):
            continue
        m = int(-power)
        k = 0
        for j, other in enumerate(factors):  # a numerator exp(k u), 0 < k <= m
            if isinstance(other, sp.exp):
                ratio = sp.simplify(other.args[0] / u)
                if ratio.is_Integer and 0 < ratio <= m:
                    k = int(ratio)
                    factors[j] = sp.S.One
                    break
        factors[i] = sigmoid(u) ** k * sigmoid(-u) ** (m - k)
        changed = True
    return sp.Mul(*factors) if changed else term
