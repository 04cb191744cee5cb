"""The `dmftc verify` checks of the gaussian_data class: the response against the random-matrix
resolvent (docs/math/gaussian_data.md §6), and the generated code against the derivation."""

from __future__ import annotations

import numpy as np
import sympy as sp
from scipy import integrate

from dmftc.codegen.interface import runtime_parameters
from dmftc.language.symbols import DATA_FIELD, DT, EPS, SELECTION, STEP
from dmftc.verify.checks import FAIL, NA, PASS, Check


def checks(dm) -> list[Check]:
    return [resolvent(dm), generated_code(dm)]


def derived_quantities(dm) -> dict:
    """The names `verify --against` compares: coordinates (after one step), theta, g, the label, grad_<w>."""
    d, spec = dm.derive(), dm.model.spec
    out = {str(z): d.site_map[z] for z in d.coordinates}
    out["theta"] = d.theta_query
    out["g"] = d.loss_grad
    if spec.label_name:
        out[spec.label_name] = spec.label
    return out | {f"grad_{w}": g for w, g in d.gradients.items()}


def resolvent(dm) -> Check:
    """For a linear model with constant coefficients the DMFT response is a random-matrix
    average: R_θ(t, t-τ) = ∫ c'M(s)^(τ-1) b dμ(s), M(s) = A + a_h s b c', μ the spectrum of XᵀX
    (ratio·Marchenko–Pastur of ratio 1/ratio)."""
    name = "the response equals the random-matrix resolvent"
    d = dm.derive()
    model = dm.model
    time_dependent = any(e.has(STEP) for e in d.site_map.values())
    if not d.exact or model.spec.data_kind != "gaussian" or time_dependent:
        return Check(name, NA, "needs the exact closure with coefficients constant in time")
    values = {p.symbol: dm.params[p.name] for p in model.params}
    if model.time == "continuous":
        values[DT] = 0.05
    z = list(d.coordinates)
    F = sp.Matrix([d.site_map[s] for s in z])
    A = np.array(F.jacobian(z).subs(values), dtype=float)
    b = np.array(F.diff(DATA_FIELD).subs(values), dtype=float).ravel()
    c = np.array(sp.Matrix([d.theta_query]).jacobian(z).subs(values), dtype=float).ravel()
    a_h = float(sp.diff(d.loss_grad.subs(SELECTION, 1), model.spec.h).subs(values))
    alpha = float(model.spec.data_args["ratio"].subs(values))
    if alpha <= 1:
        return Check(name, NA, "the check integrates the Marchenko–Pastur law for ratio > 1 only")
    T = 12
    ds = dm.solve(steps=T, mode="exact", **({"dt": 0.05} if model.time == "continuous" else {}))
    gamma = 1 / alpha
    lo, hi = (1 - np.sqrt(gamma)) ** 2, (1 + np.sqrt(gamma)) ** 2
    worst = 0.0
    for lag in range(1, T + 1):

        def integrand(x, lag=lag):
            M = A + a_h * alpha * x * np.outer(b, c)
            return c @ np.linalg.matrix_power(M, lag - 1) @ b / (2 * np.pi * gamma * x)

        expected, _ = integrate.quad(
            integrand, lo, hi, weight="alg", wvar=(0.5, 0.5), epsabs=1e-13, epsrel=1e-12, limit=200
        )
        got = ds.R_theta.values[T, T - lag]
        worst = max(worst, abs(got - expected) / max(abs(expected), 1e-12))
    status = PASS if worst < 1e-8 else FAIL  # exact mode: only rounding and quadrature error
    return Check(name, status, f"largest relative difference over lags 1..{T}: {worst:.1e}")


def generated_code(dm, points: int = 20) -> Check:
    """The generated functions compute the derived expressions: evaluated at random points,
    generated code and sympy agree to 1e-10 relative."""
    name = "the generated code matches the derived equations"
    d = dm.derive()
    model = dm.model
    plan = dm.compiled.generated[1]
    module = dm.compiled.module
    runtime = runtime_parameters(model)
    values = {sym: (dm.params[nm] if nm in dm.params else 0.05) for sym, nm in runtime}
    params = np.array([values[sym] for sym, _ in runtime])
    rng = np.random.default_rng(0)
    k = len(d.coordinates)
    worst, compared, outside = 0.0, 0, 0

    def compare(got: float, expr: sp.Expr, subs: dict):
        """Outside the expression's domain (sqrt of a negative state, ...) sympy gives a
        complex number and numba NaN: such points are counted, not compared."""
        nonlocal worst, compared, outside
        want = complex(expr.subs(values).subs(subs).evalf())
        if want.imag != 0 or not np.isfinite(got):
            outside += 1
            return
        compared += 1
        worst = max(worst, abs(got - want.real) / max(1.0, abs(want.real)))

    for _ in range(points):
        z = rng.normal(size=k)
        q, h, latent, eps, sel = rng.normal(size=5)
        if model.spec.data_kind == "mixture":
            latent = float(rng.choice([-1.0, 0.0, 1.0]))
        noise = rng.normal(size=len(model.noises))
        t = int(rng.integers(0, 20))
        at = dict(zip(d.coordinates, z)) | {DATA_FIELD: q, STEP: t} | dict(zip(model.noises, noise))
        out = np.empty(k)
        module.site_step(z, q, noise, t, params, out)
        for i, s in enumerate(d.coordinates):
            compare(out[i], d.site_map[s], at)
        compare(module.theta_query(z, t, params), d.theta_query, at)
        y = module.label(latent, eps, params)
        compare(y, d.label if d.label is not None else sp.Integer(0), {model.spec.latent: latent, EPS: eps})
        sample = {model.spec.h: h, model.spec.y: y, SELECTION: sel}
        compare(module.loss_grad(h, y, sel, params), d.loss_grad, sample)
        if plan.data_smooth:
            compare(module.loss_grad_dh(h, y, sel, params), d.loss_grad_dh, sample)
    status = PASS if worst < 1e-10 and compared > outside else FAIL
    return Check(
        name,
        status,
        f"{compared} evaluations at {points} random points, largest relative "
        f"difference {worst:.1e}" + (f" ({outside} outside the domain)" if outside else ""),
    )
