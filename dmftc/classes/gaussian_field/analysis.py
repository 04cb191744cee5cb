"""Analysis of the gaussian_field class: ``landscape gaussian_field(xi = ...)`` and ``signal``
(docs/language.md §4), and the class's specification :class:`FieldSpec`."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from dmftc.analysis.model import Variable
from dmftc.errors import Location, ModelError, require_known
from dmftc.language import nodes as n
from dmftc.language.expressions import to_sympy
from dmftc.language.symbols import OVERLAP_M, OVERLAP_Q

LANDSCAPE_KINDS = {"gaussian_field": {"xi": True}}


@dataclass(frozen=True)
class FieldSpec:
    xi: sp.Expr  # landscape covariance, in q
    signal: Variable | None = None
    strength: sp.Expr | None = None  # signal term, in m


def landscape_statement(a, s: n.LandscapeDecl):
    call = s.call
    require_known(call, LANDSCAPE_KINDS, "landscape", "landscapes", "unknown-landscape")
    args = a.keyword_args(call, LANDSCAPE_KINDS[call.func], "landscape", {"q": OVERLAP_Q})
    xi = args["xi"]
    kw = next(k for k in call.keywords if k.name == "xi")
    _check_covariance(xi, OVERLAP_Q, kw.value.loc, "xi(q)")
    a.out["xi"] = xi
    a.enable_aggregates("energy")


def signal_statement(a, s: n.SignalDecl):
    if "xi" not in a.out:
        raise ModelError("'signal' needs a 'landscape' statement before it", s.loc, kind="missing-landscape")
    strength = to_sympy(s.strength, a.resolver("the signal strength", ("param",), {"m": OVERLAP_M}))
    _check_covariance(strength, OVERLAP_M, s.strength.loc, "strength(m)")
    symbol = a.symbol(s.name)
    a.define(s.name, s.name_loc, "signal", symbol)
    # the signal is uniform on the sphere: coordinates of unit variance
    a.out["signal"] = Variable(s.name, symbol, "signal", sp.Integer(0), s.sphere, s.name_loc, "uniform on sphere")
    a.out["strength"] = strength


def field_spec(a, block) -> FieldSpec:
    a.require_gradient(block)
    if len(a.weights) != 1:
        raise ModelError("a landscape model has exactly one weight vector", a.weights[1].loc, kind="bad-weights")
    return FieldSpec(a.out["xi"], a.out.get("signal"), a.out.get("strength"))


def _check_covariance(expr: sp.Expr, var: sp.Symbol, loc: Location, what: str):
    """A covariance function is a sum of terms ``c * var^k`` (``c`` and ``k`` may be parameters;
    their signs are checked when numbers are known)."""
    if not expr.has(var):
        raise ModelError(f"{what} does not depend on {var}", loc, kind="bad-covariance")
    for term in sp.Add.make_args(sp.expand(expr)):
        coefficient, exponent = term.as_coeff_exponent(var)
        if coefficient.has(var) or exponent.has(var) or exponent.is_negative:
            raise ModelError(
                f"{what} must be a sum of terms c * {var}^k with c, k >= 0",
                loc,
                kind="bad-covariance",
                hint=f"the term {term} is not of that form",
            )


HANDLERS = {n.LandscapeDecl: landscape_statement, n.SignalDecl: signal_statement}
