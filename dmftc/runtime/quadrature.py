"""Gauss rules for spectral integrals ``∫ ρ(λ) f(λ) dλ ≈ Σ w_j f(λ_j)``, shared by the spectral
solvers of the linear_system class (docs/math/linear_system.md §8) and of linear data models
(docs/math/gaussian_data.md §5.2)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from dmftc.errors import SolverError

MIN_NODES = 200
MAX_NODES = 4000


@dataclass(frozen=True)
class Quadrature:
    """``∫ ρ f ≈ Σ weights * f(nodes)`` (Ginibre: one node, valid for analytic f only)."""

    nodes: np.ndarray
    weights: np.ndarray


def nodes_for(width: float, longest_time: float) -> int:
    """Gauss nodes for integrands like e^{-λ t}, t ≤ longest_time, on a support of this width:
    the Chebyshev coefficients of e^{-a x} on [-1, 1] (a = width t / 2) fall like (a/2)^k / k!,
    negligible beyond k = e a / 2 + 30; a rule of n nodes is exact to degree 2n − 1."""
    a = width * longest_time / 2
    return int(min(MAX_NODES, max(MIN_NODES, math.e * a / 4 + 40)))


def chebyshev_u(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss rule for the weight √(1 − x²) on [-1, 1] (total π/2)."""
    j = np.arange(1, n + 1)
    theta = j * np.pi / (n + 1)
    return np.cos(theta), np.pi / (n + 1) * np.sin(theta) ** 2


def marchenko_pastur_edges(alpha: float) -> tuple[float, float]:
    q = 1 / alpha
    return (1 - math.sqrt(q)) ** 2, (1 + math.sqrt(q)) ** 2


def marchenko_pastur(alpha: float, longest_time: float) -> Quadrature:
    if not alpha > 0:
        raise SolverError(f"the wishart ratio must be positive, got {alpha}", kind="bad-parameter")
    q = 1 / alpha
    lo, hi = marchenko_pastur_edges(alpha)
    centre, radius = (lo + hi) / 2, (hi - lo) / 2
    n = nodes_for(hi - lo, longest_time)
    if abs(q - 1) < 1e-12:  # λ₋ = 0: density √((4 − λ)/λ) / (2π), weight √((1 − x)/(1 + x)) / π
        x, w = special.roots_jacobi(n, 0.5, -0.5)
        nodes, weights = centre + radius * x, w / np.pi
    else:  # ρ dλ = radius² √(1 − x²) / (2π q λ(x)) dx
        x, w = chebyshev_u(n)
        nodes = centre + radius * x
        weights = w * radius**2 / (2 * np.pi * q * nodes)
    if alpha < 1:  # the zero modes: a fraction 1 − α of the eigenvalues
        nodes, weights = np.append(nodes, 0.0), np.append(weights, 1 - alpha)
    return Quadrature(nodes, weights)
