"""``dmftc verify`` checks of the linear_system class: the DMFT closure against the spectrum.

Both checks solve the model twice at the same Euler step (a flow) and compare: the cavity
closure of :mod:`dmftc.derive_linear` by coefficient vectors, and the eigen-direction
recursions integrated over the spectral density (:mod:`dmftc.spectra`). They share no code
beyond the coefficients of one step, so agreement to rounding checks the memory kernels and
field covariances of the closure (docs/math/linear_system.md §2-§3).
"""

from __future__ import annotations

import numpy as np

from dmftc.classes.linear_system import spectra
from dmftc.classes.linear_system.solve import DMFT_ENSEMBLES, coefficients, spectral_response
from dmftc.verify.checks import FAIL, NA, PASS, Check

STEPS = 40
DT = 0.05
TOLERANCE = 1e-9  # both sides are exact up to rounding and the Gauss rule (below 1e-12 measured)


def checks(dm) -> list[Check]:
    return [response_is_spectral(dm), correlation_is_spectral(dm)]


def _dt(dm) -> float | None:
    return DT if dm.model.time == "continuous" else None


def response_is_spectral(dm) -> Check:
    """R(t, t - τ) of the closure = ∫ ρ(λ) [P(λ)^τ]_xx dλ (Ginibre: at λ = 0, the centre of the
    circular law)."""
    name = "the DMFT response equals the spectral integral"
    law = dm.derive().law
    if law.ensemble not in DMFT_ENSEMBLES:
        return Check(name, NA, "spectrum() has no DMFT closure (the spectral solver is the solution)")
    ds = dm.solve(steps=STEPS, dt=_dt(dm), method="dmft")
    cf = coefficients(dm.derive(), dm.params, _dt(dm))
    rule = spectra.quadrature(
        law, {p.symbol: dm.params[p.name] for p in dm.model.params}, STEPS * (DT if _dt(dm) else 1)
    )
    expected = spectral_response(cf, rule.nodes, rule.weights, STEPS, _dt(dm), euler=True)
    got = ds.R.values[STEPS, ::-1]  # R(T, T - lag)
    worst = float(np.max(np.abs(got - expected) / np.maximum(np.abs(expected), 1e-12)))
    return Check(
        name, PASS if worst < TOLERANCE else FAIL, f"largest relative difference over lags 0..{STEPS}: {worst:.1e}"
    )


def correlation_is_spectral(dm) -> Check:
    """C(t, s) and the observables of the closure = those of the spectral solver."""
    name = "the DMFT correlation equals the spectral integral"
    law = dm.derive().law
    if law.ensemble not in DMFT_ENSEMBLES or not law.normal:
        return Check(name, NA, "needs both solvers: a normal matrix with a DMFT closure (goe, wishart)")
    dmft = dm.solve(steps=STEPS, dt=_dt(dm), method="dmft")
    spectral = dm.solve(steps=STEPS, dt=_dt(dm), method="spectral", euler=True)
    worst = 0.0
    for var in ["C"] + [o.name for o in dm.model.observables]:
        a, b = dmft[var].values, spectral[var].values
        worst = max(worst, float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12))))
    return Check(
        name,
        PASS if worst < TOLERANCE else FAIL,
        f"largest relative difference of C and the observables over {STEPS} steps: {worst:.1e}",
    )
