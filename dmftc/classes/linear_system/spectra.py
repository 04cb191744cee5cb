"""Spectral laws of the matrix ensembles of a linear system, as quadrature rules, and resolvents.

Every time-domain curve of a linear system driven by a normal matrix is an integral over its
spectral density ρ (docs/math/linear_system.md §2-§3): ``∫ ρ(λ) f(λ) dλ`` is computed
as ``Σ_j w_j f(λ_j)`` by a Gauss rule matched to the density's edges:

* ``goe(var)``: semicircle ρ = √(4v − λ²) / (2πv): Gauss–Chebyshev of the second kind.
* ``wishart(ratio = α)``: Marchenko–Pastur of q = 1/α (docs/math/linear_system.md §3), ρ = (1 − α)₊ δ₀ +
  √((λ₊ − λ)(λ − λ₋)) / (2π q λ), λ± = (1 ± √q)²: Chebyshev of the second kind for the
  continuous part (Gauss–Jacobi with weight √((1 − x)/(1 + x)) when q = 1, where λ₋ = 0), an
  atom at 0 when α < 1.
* ``spectrum(law)``: Gauss–Hermite (normal), Gauss–Legendre (uniform), the atoms themselves.
* ``ginibre(var)`` has the circular law, a density in the complex plane. Only analytic functions
  of λ (the response ``(1/N) Tr f(M)``) are spectral integrals for a non-normal matrix: by the
  mean-value property their average over the disc is their value at its centre, ``f(0)``.

The rules are exact for polynomials of degree ``2n − 1`` (the atoms for any function); for the
entire functions of the solvers, ``e^{-λ t}`` and ``(1 − dt λ)^k``, the error falls below 1e-13
once ``n`` exceeds about ``0.4 · width · t`` (:func:`nodes_for`).
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from dmftc.classes.linear_system.analysis import MatrixLaw
from dmftc.runtime.quadrature import Quadrature, chebyshev_u, marchenko_pastur, nodes_for


def _number(expr: sp.Expr, params: dict[sp.Symbol, float]) -> float:
    return float(expr.subs(params))


def quadrature(law: MatrixLaw, params: dict[sp.Symbol, float], longest_time: float = 10.0) -> Quadrature:
    """The quadrature rule of the eigenvalue density of ``law`` (parameters as symbol -> value)."""
    if law.ensemble == "ginibre":
        return Quadrature(np.zeros(1), np.ones(1))
    if law.ensemble == "goe":
        v = _number(law.args["var"], params)
        x, w = chebyshev_u(nodes_for(4 * math.sqrt(v), longest_time))
        return Quadrature(2 * math.sqrt(v) * x, w * 2 / np.pi)
    if law.ensemble == "wishart":
        return marchenko_pastur(_number(law.args["ratio"], params), longest_time)
    return _eigenvalue_law(law, params, longest_time)


def _eigenvalue_law(law: MatrixLaw, params, longest_time: float) -> Quadrature:
    e = law.eigenvalues
    shift, scale = _number(e.shift, params), _number(e.scale, params)
    if e.kind == "atoms":
        base = np.array([_number(a, params) for a in e.atoms])
        weights = np.full(base.size, 1 / base.size)
    elif e.kind == "rademacher":
        base, weights = np.array([-1.0, 1.0]), np.array([0.5, 0.5])
    elif e.kind == "uniform":
        x, w = np.polynomial.legendre.leggauss(nodes_for(abs(scale), longest_time))
        base, weights = (x + 1) / 2, w / 2
    else:  # normal: the support is unbounded, the Gaussian weight keeps e^{-λt} integrable
        x, w = np.polynomial.hermite_e.hermegauss(min(150, nodes_for(6 * abs(scale), longest_time)))
        base, weights = x, w / math.sqrt(2 * math.pi)
    return Quadrature(shift + scale * base, weights)


def resolvent(law: MatrixLaw, params: dict[sp.Symbol, float], s: complex) -> complex:
    """R̃(s) = (1/N) Tr (s + M)^{-1} = ∫ ρ(λ) / (s + λ) dλ (docs/math/linear_system.md §3); s off the spectrum of −M."""
    rule = quadrature(law, params)
    return complex(np.sum(rule.weights / (s + rule.nodes)))


def marchenko_pastur_resolvent(s: float, alpha: float) -> float:
    """The root of q s R̃² + (s + 1 − q) R̃ − 1 = 0 with q = 1/α (docs/math/linear_system.md §3, closed form)."""
    q = 1 / alpha
    return (-(s + 1 - q) + math.sqrt((s + 1 - q) ** 2 + 4 * q * s)) / (2 * q * s)
