"""Closed forms of docs/math/linear_system.md §2-§4 (random-matrix oracles).

* GOE and Ginibre flows at z = 0: R(τ) = I_1(2τ)/τ, C(t,t') = R(t + t') (GOE, isotropic start);
  R ≡ 1, C(t,t') = I_0(2 sqrt(t t')) (Ginibre); and their Euler-step versions, which the DMFT of
  the discretised flow reproduces exactly: with x(k+1) = (1 - dt M) x(k),
  R(k) = Σ_j C(k, 2j) dt^(2j) Catalan(j) (semicircle moments) and, for Ginibre,
  C(k, l) = Σ_j C(k, j) C(l, j) dt^(2j) (the solution of Δ_k Δ_l C = dt² C with C = 1 on the axes).
* Gradient flow on linear and ridge regression (docs/math/linear_system.md §4), in their time t_b: E_gen (bias and
  variance parts), E_tr, and the Euler-step versions (factor (1 - dt α ℓ)^k for e^{-ℓ t_b}, k dt α = t_b).
"""

import math

import numpy as np
from scipy import integrate
from scipy.special import comb


def catalan(j: int) -> float:
    return comb(2 * j, j, exact=True) // (j + 1)


def goe_response_euler(k: int, dt: float) -> float:
    """(1/N) Tr (1 - dt M)^k for the semicircle on [-2, 2]: odd moments vanish."""
    return float(sum(comb(k, 2 * j, exact=True) * dt ** (2 * j) * catalan(j) for j in range(k // 2 + 1)))


def ginibre_correlation_euler(k: int, l: int, dt: float) -> float:
    return float(sum(comb(k, j, exact=True) * comb(l, j, exact=True) * dt ** (2 * j) for j in range(min(k, l) + 1)))


def _mp_edges(alpha: float) -> tuple[float, float]:
    q = 1 / alpha
    return (1 - math.sqrt(q)) ** 2, (1 + math.sqrt(q)) ** 2


def mp_integral(f, alpha: float) -> float:
    """∫ ρ_M f for M = Ψ^T Ψ / P of docs/math/linear_system.md §3: (1 - α)_+ δ_0 + √((λ+ - ℓ)(ℓ - λ-)) / (2π q ℓ)."""
    q = 1 / alpha
    lo, hi = _mp_edges(alpha)
    value, _ = integrate.quad(
        lambda l: f(l) / (2 * np.pi * q * l),
        lo,
        hi,
        weight="alg",
        wvar=(0.5, 0.5),
        epsabs=1e-14,
        epsrel=1e-13,
        limit=200,
    )
    return value + max(0.0, 1 - alpha) * f(0.0)


def kernel_integral(f, alpha: float) -> float:
    """∫ ρ_K f for K = Ψ Ψ^T / P: (1 - 1/α)_+ δ_0 + √((λ+ - μ)(μ - λ-)) / (2π μ) (docs/math/linear_system.md §4)."""
    lo, hi = _mp_edges(alpha)
    value, _ = integrate.quad(
        lambda u: f(u) / (2 * np.pi * u), lo, hi, weight="alg", wvar=(0.5, 0.5), epsabs=1e-14, epsrel=1e-13, limit=200
    )
    return value + max(0.0, 1 - 1 / alpha) * f(0.0)


def regression_curves(
    alpha: float, sigma: float, t_b: float, ridge: float = 0.0, euler_dt: float | None = None
) -> dict:
    """E_gen = bias + variance and E_tr of docs/math/linear_system.md §4 at time t_b (their units; ridge λ of theirs).
    ``euler_dt``: the Euler step of dmftc's flow (dmftc time = t_b / α, step dt): the factor
    e^{-(ℓ + λ) t_b} becomes (1 - dt α (ℓ + λ))^k with k = t_b / (α dt)."""
    if euler_dt is None:
        decay = lambda l: math.exp(-(l + ridge) * t_b)  # noqa: E731
    else:
        k = round(t_b / (alpha * euler_dt))
        decay = lambda l: (1 - euler_dt * alpha * (l + ridge)) ** k  # noqa: E731
    # w(t) = ℓ (1 - decay)/(ℓ + λ) w* + noise: bias (ℓ(1 - decay)/(ℓ + λ) - 1)^2, variance σ²/α ℓ (1 - decay)²/(ℓ + λ)²
    # (at ℓ + λ = 0 the gain is multiplied by ℓ = 0)
    gain = lambda l: (1 - decay(l)) / (l + ridge) if l + ridge > 0 else 0.0  # noqa: E731
    bias = mp_integral(lambda l: (l * gain(l) - 1) ** 2, alpha)
    variance = sigma**2 / alpha * mp_integral(lambda l: l * gain(l) ** 2, alpha)
    out = {"bias": bias, "variance": variance, "gen": bias + variance}
    if ridge == 0:
        out["train"] = kernel_integral(lambda u: decay(u) ** 2 * (alpha * u + sigma**2), alpha)
    return out
