"""Gradient flow on linear and ridge regression against the closed forms of
docs/math/linear_system.md §4, and the bias/variance split of --average-over (docs/math/linear_system.md §5).

Conventions (models/linear_regression_flow.dmft): X^T X = alpha M with M = Ψ^T Ψ / P of
docs/math/linear_system.md §4, so their time is t_b = alpha t and their ridge λ is lam / alpha. The
flow is solved with Euler steps of length dt; the docs/math/linear_system.md §4 integrals with
e^{-ℓ t_b} replaced by (1 - dt alpha ℓ)^k are then exact for
the solved dynamics (tested to rounding), and the continuous values are reached at O(dt).
"""

import numpy as np
import pytest

import dmftc
from dmftc.errors import SolverError

from .conftest import ROOT
from .oracles_rmt import mp_integral, regression_curves

MODEL = ROOT / "models" / "linear_regression_flow.dmft"
DT = 0.05


def _solve(alpha, steps, **params):
    return dmftc.load(MODEL, alpha=alpha, **params).solve(steps=steps, dt=DT, average_over="label-noise")


def test_linear_regression_matches_the_marchenko_pastur_integrals():
    # alpha = 0.5, sigma = 0.5 (the docs/math/linear_system.md §4 check). Exact closure vs the Euler integrals: only
    # rounding and the quadrature of the oracle (1e-13): 1e-9 relative.
    alpha = 0.5
    ds = _solve(alpha, 400)
    for k in (10, 40, 100, 400):
        oracle = regression_curves(alpha, 0.5, k * DT * alpha, euler_dt=DT)
        np.testing.assert_allclose(ds.gen_error.values[k], oracle["gen"], rtol=1e-9)
        np.testing.assert_allclose(ds.gen_error_bias.values[k], oracle["bias"], rtol=1e-9)
        np.testing.assert_allclose(ds.gen_error_variance.values[k], oracle["variance"], rtol=1e-9)
        np.testing.assert_allclose(ds.train_error.values[k], oracle["train"], rtol=1e-9)
    # the test loss is (E_gen + sigma^2)/2, and so is its bias (the fresh label's noise stays)
    np.testing.assert_allclose(ds.test_loss.values, (ds.gen_error.values + 0.25) / 2, rtol=1e-12)
    # the quoted continuous values (docs/math/linear_system.md §4 table: t_b = 0.5, 2, 10, 4 digits);
    # the Euler step moves
    # them by at most 0.16% at dt = 0.05 (measured against the continuous integrals), bound 0.3%
    for t_b, quoted in ((0.5, 0.6741), (2.0, 0.6577), (10.0, 0.7383)):
        assert abs(ds.gen_error.values[round(t_b / (alpha * DT))] / quoted - 1) < 3e-3
    # non-monotone: down to a minimum, then up towards (1 - alpha) + sigma^2 alpha / (1 - alpha) = 0.75
    gen = ds.gen_error.values
    low = int(np.argmin(gen))
    assert 0 < low < 400 and gen[low] < gen[20] - 0.01 and gen[400] > gen[low] + 0.07
    assert abs(regression_curves(alpha, 0.5, 200.0)["gen"] - 0.75) < 1e-6


def test_linear_regression_above_the_interpolation_threshold():
    # alpha = 2: E_gen -> sigma^2/(alpha - 1), E_tr -> sigma^2 (1 - 1/alpha). Tolerances as above.
    alpha = 2.0
    ds = _solve(alpha, 100)
    for k in (20, 100):
        oracle = regression_curves(alpha, 0.5, k * DT * alpha, euler_dt=DT)
        np.testing.assert_allclose(ds.gen_error.values[k], oracle["gen"], rtol=1e-9)
        np.testing.assert_allclose(ds.train_error.values[k], oracle["train"], rtol=1e-9)
    # the quoted values at t_b = 2 and 10; a step dt is alpha dt = 0.1 of their time here, which
    # moves E_gen(2) by 0.65% (measured against the continuous integral), bound 1%
    assert abs(ds.gen_error.values[20] / 0.2108 - 1) < 1e-2
    assert abs(ds.train_error.values[100] / 0.1268 - 1) < 3e-3


def test_ridge_flow_matches_the_integrals():
    # ridge λ = 0.1 in docs/math/linear_system.md §4 units is lam = alpha λ = 0.05 here; t_b = 1 is 40 steps of 0.05
    alpha = 0.5
    ds = _solve(alpha, 200, lam=0.05)
    for k in (40, 200):
        oracle = regression_curves(alpha, 0.5, k * DT * alpha, ridge=0.1, euler_dt=DT)
        np.testing.assert_allclose(ds.gen_error.values[k], oracle["gen"], rtol=1e-9)
        np.testing.assert_allclose(ds.gen_error_bias.values[k], oracle["bias"], rtol=1e-9)
    assert abs(ds.gen_error.values[40] / 0.6458 - 1) < 3e-3


@pytest.mark.parametrize("sources", ["init", "label-noise,init", "data,label-noise,init"])
def test_averages_over_the_initialisation_and_the_data(sources):
    # w(0) ~ normal(0, v0): E_gen = (1 + v0) ∫ρ d² + sigma²/alpha ∫ρ (1 - d)²/ℓ with d = (1 - dt alpha ℓ)^k.
    # Averaging over init drops the v0 term; over label noise too leaves ∫ρ d²; over the data too,
    # E_X[w] = m w* with m = ∫ρ (1 - d), so the bias is (1 - m)². Exact: 1e-9.
    alpha, sigma, v0, k = 0.5, 0.5, 0.5, 80
    ds = dmftc.load(MODEL, alpha=alpha, v0=v0).solve(steps=k, dt=DT, average_over=sources)
    d = lambda l: (1 - DT * alpha * l) ** k  # noqa: E731
    teacher = mp_integral(lambda l: d(l) ** 2, alpha)
    noise = sigma**2 / alpha * mp_integral(lambda l: (1 - d(l)) ** 2 / l if l > 0 else 0.0, alpha)
    m = mp_integral(lambda l: 1 - d(l), alpha)
    expected = {"init": teacher + noise, "label-noise,init": teacher, "data,label-noise,init": (1 - m) ** 2}[sources]
    np.testing.assert_allclose(ds.gen_error.values[k], (1 + v0) * teacher + noise, rtol=1e-9)
    np.testing.assert_allclose(ds.gen_error_bias.values[k], expected, rtol=1e-9)
    assert "train_error_bias" not in ds  # no mean predictor on the training set of other data


def test_average_over_needs_the_exact_closure():
    with pytest.raises(SolverError, match="needs the exact closure"):
        dmftc.load(ROOT / "models" / "logistic_gd.dmft").solve(steps=2, samples=100, average_over="init")
    with pytest.raises(SolverError, match="unknown noise source 'label_noise'"):
        dmftc.load(MODEL).solve(steps=2, dt=DT, average_over="label_noise")


@pytest.mark.slow
def test_simulation_reproduces_the_non_monotone_test_error():
    # docs/math/linear_system.md §4 check: alpha = 0.5, sigma = 0.5 at d = 1200 over 12 runs, t_b = 0.5, 2, 10. The
    # simulation takes the same Euler steps as the closure, so only finite-size fluctuations
    # remain: 4 standard errors plus 0.5% for O(1/d).
    m = dmftc.load(MODEL)
    theory = m.solve(steps=400, dt=DT)
    sim = m.simulate(dim=1200, runs=12, steps=400, dt=DT)
    for k in (20, 80, 400):
        for name in ("gen_error", "train_error"):
            gap = abs(sim[name].values[k] - theory[name].values[k])
            assert gap < 4 * sim[f"{name}_sem"].values[k] + 5e-3 * theory[name].values[k], (name, k)
    assert sim.gen_error.values[80] < sim.gen_error.values[20] and sim.gen_error.values[400] > sim.gen_error.values[80]
