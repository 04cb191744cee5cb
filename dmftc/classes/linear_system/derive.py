"""Derivation for the ``linear_system`` class: the cavity closure of docs/math/linear_system.md §2-§3.

One step of the model (an ``update:``, or the Euler step of length ``dt`` of a ``flow:``) is
affine (checked by the analysis)::

    z(t+1) = A z(t) + b (Mθ)(t) + c + S ζ(t),      θ(t) = c_θ0 + c_θ · z(t)

with ``z`` the weight and the states of one coordinate and ``(Mθ)`` the matrix-vector product.
The cavity method replaces the product, for one coordinate, by a Gaussian field and a memory:

* ``goe(var = v)`` (symmetric): ``(Mθ)(t) = u(t) + v Σ_{s<t} χ(t,s) θ(s)``, ``u ~ GP(0, v C_θ)``;
  the memory comes from ``M_ij = M_ji`` (the response closure ``∂_t R = δ + ∫ R R`` of docs/math/linear_system.md §2).
* ``ginibre(var = v)`` (i.i.d. entries): ``(Mθ)(t) = u(t)``, ``u ~ GP(0, v C_θ)``: no memory,
  ``M_ij`` and ``M_ji`` are independent (R ≡ 1 and ∂_t ∂_t' C = C at z = 0, docs/math/linear_system.md §2).
* ``wishart(ratio = α)``, ``M = ΨᵀΨ/P``: two levels, as for data (docs/math/gaussian_data.md §2), with
  ``q = N/P = 1/α``: a row ``h(t) = ω(t) + q Σ_{s<t} χ(t,s) h(s)``, ``ω ~ GP(0, q C_θ)``, and
  ``(Mθ)(t) = ν(t) + Σ_{s≤t} ψ(t,s) θ(s)``, ``ν ~ GP(0, C_h)``, ``ψ(t,s) = ∂h(t)/∂ω(s)``.

The closure: ``C_θ(t,s) = E[θ(t) θ(s)]``, ``χ(t,s) = E[∂θ(t)/∂u(s)]`` (u, or ν), and the
output response ``R(t,s) = E[∂x(t)/∂x(s)]`` of the weight to a kick at time s (``R(t,t) = 1``;
for a flow it tends to the continuous response ``R(t,s)``, ``R(s+, s) = 1``). Every variable is a
linear combination of the Gaussian inputs, so the closure is solved exactly by coefficient
vectors (:mod:`dmftc.solve_linear`), with no sampling.

For a normal matrix (goe, wishart, spectrum) each eigen-direction of M evolves on its own: the
mode map is ``P(λ) = A + λ b c_θᵀ`` (one step) or ``exp((t − s)(L + λ ℓ c_θᵀ))`` (a flow with
rates ``L, ℓ``), and ``R(t,s) = ∫ ρ(λ) [P(λ)^{t−s}]_xx dλ``: the spectral solver.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from dmftc.analysis.model import Model
from dmftc.classes.linear_system.analysis import LAMBDA
from dmftc.language.symbols import DT


@dataclass(frozen=True)
class LinearDerivation:
    model: Model
    coordinates: tuple[sp.Symbol, ...]  # z: the weight, then the states
    weight: sp.Symbol
    product: sp.Symbol  # (Mθ): the matrix-vector product of the step
    query: sp.Expr  # θ = c_θ0 + c_θ · z
    site_map: dict  # z_k -> F_k(z, Mθ, ζ)
    transition: sp.Matrix  # A = ∂F/∂z
    coupling: sp.Matrix  # b = ∂F/∂(Mθ)
    constant: sp.Matrix  # c = F(0, 0, 0)
    noise: sp.Matrix  # S = ∂F/∂ζ (k x noises)
    query_coefficients: sp.Matrix  # c_θ
    query_constant: sp.Expr  # c_θ0
    mode_map: sp.Matrix  # P(λ) = A + λ b c_θᵀ: one step of an eigen-direction
    # flows: the rates, F = z + dt (L z + ℓ Mθ + c_rate) + √dt S_rate ζ
    rates: tuple[sp.Matrix, sp.Matrix, sp.Matrix, sp.Matrix] | None

    @property
    def law(self):
        return self.model.spec.matrix

    def render(self, fmt: str = "text") -> str:
        from dmftc.classes.linear_system.report import render_linear_derivation

        return render_linear_derivation(self, fmt)

    def _repr_latex_(self) -> str:  # Jupyter
        return "$\\displaystyle " + self.render("latex-inline") + "$"


def derive_linear_system(model: Model) -> LinearDerivation:
    system = model.spec
    z = tuple(v.symbol for v in model.coordinates)
    F = sp.Matrix([sp.expand(model.step_map[s]) for s in z])
    zero = {s: 0 for s in z} | {system.product: 0} | {e: 0 for e in model.noises}
    noise = F.jacobian(list(model.noises)) if model.noises else sp.zeros(len(z), 0)
    c_theta = sp.Matrix([sp.diff(system.query, s) for s in z])
    A, b = F.jacobian(list(z)), F.diff(system.product)
    rates = None
    if model.time == "continuous":
        root = sp.sqrt(DT)
        rates = (
            sp.simplify((A - sp.eye(len(z))) / DT),
            sp.simplify(b / DT),
            sp.simplify(F.subs(zero) / DT),
            sp.simplify(noise / root),
        )
    return LinearDerivation(
        model=model,
        coordinates=z,
        weight=model.weights[0].symbol,
        product=system.product,
        query=system.query,
        site_map={s: model.step_map[s] for s in z},
        transition=A,
        coupling=b,
        constant=F.subs(zero),
        noise=noise,
        query_coefficients=c_theta,
        query_constant=system.query.subs({s: 0 for s in z}),
        mode_map=A + LAMBDA * b * c_theta.T,
        rates=rates,
    )
