"""Flows: the Euler(-Maruyama) solution converges to the flow at first order in dt."""

import numpy as np
import pytest

import dmftc

from .conftest import ROOT
from .oracles import _mp_integral, ridge_curves

MODELS = ROOT / "models"


def langevin_flow_at(t: float, alpha: float, lam: float, sigma: float, temp: float) -> dict:
    """Closed form of dw = -grad dt + sqrt(2 temp) dB on ridge from w = 0 at time t: the ridge
    flow plus the noise, whose covariance is temp A^-1 (1 - exp(-2 A t)), A = X^T X + lam."""
    flow = {name: curve[-1] for name, curve in ridge_curves(alpha, lam, sigma, 0.0, 0.0, 1, dt=t).items()}
    noise = temp * _mp_integral(lambda s: (1 - np.exp(-2 * (s + lam) * t)) / (s + lam), alpha)
    noise_fit = temp * _mp_integral(lambda s: s * (1 - np.exp(-2 * (s + lam) * t)) / (s + lam), alpha)
    return {
        "overlap": flow["overlap"],
        "sq_norm": flow["sq_norm"] + noise,
        "train_loss": flow["train_loss"] + noise_fit / (2 * alpha),
        "test_loss": flow["test_loss"] + noise / 2,
    }


def test_langevin_flow_is_langevin_with_lr_dt():
    # gauss() in a flow is sqrt(dt) N(0, 1): the flow at dt is the discrete Langevin model at
    # lr = dt, the same exact-mode recursion (equal to rounding, measured 2e-16)
    flow = dmftc.load(MODELS / "langevin_flow_ridge.dmft").solve(steps=50, dt=0.1)
    discrete = dmftc.load(MODELS / "langevin_ridge.dmft", lr=0.1).solve(steps=50)
    for name in ("train_loss", "test_loss", "overlap", "sq_norm"):
        np.testing.assert_allclose(flow[name].values, discrete[name].values, rtol=0, atol=1e-13)


def test_langevin_flow_converges_at_first_order():
    # Exact mode: no sampling error; the reference is the flow itself (closed form). Errors at
    # t = 2 must shrink by 2 when dt halves (measured ratios: 1.98-2.42 from dt = 0.05 to 0.025,
    # 1.99-2.21 from 0.025 to 0.0125; a second-order scheme gives 4, a wrong noise scale 1).
    m = dmftc.load(MODELS / "langevin_flow_ridge.dmft")
    p = m.params
    exact = langevin_flow_at(2.0, p["alpha"], p["lam"], p["sigma"], p["temp"])
    errors = []
    for dt in (0.05, 0.025, 0.0125):
        ds = m.solve(steps=round(2.0 / dt), dt=dt)
        errors.append(np.array([float(ds[name][-1]) - value for name, value in exact.items()]))
    for coarse, fine in zip(errors, errors[1:]):
        assert np.all((coarse / fine > 1.8) & (coarse / fine < 2.5)), (list(exact), coarse / fine)


@pytest.mark.slow
def test_logistic_gradient_flow_converges_at_first_order():
    # Monte Carlo, one seed for all dt, M = 400000 samples per side. Errors at t = 1 against
    # dt = 0.0125, for dt = 0.2, 0.1, 0.05; first order predicts the ratios (0.2 - 0.0125) /
    # (0.1 - 0.0125) = 2.14 and 2.33 (second order: 4.1 and 4.3). Measured over 4 seeds: overlap
    # and squared norm ratios 2.0-2.9, their errors at dt = 0.05 (0.008, 0.018) ten times their
    # Monte-Carlo standard deviation (3e-4 to 1e-3). Train and test loss are left out: their
    # errors (0.002, 0.001) are only 6-8 Monte-Carlo standard deviations.
    m = dmftc.load(MODELS / "logistic_flow.dmft")
    names = ("overlap", "sq_norm")

    def at_time_one(dt):
        ds = m.solve(steps=round(1 / dt), dt=dt, samples=400000, seed=0)
        return np.array([float(ds[name][-1]) for name in names])

    reference = at_time_one(0.0125)
    errors = [at_time_one(dt) - reference for dt in (0.2, 0.1, 0.05)]
    for coarse, fine in zip(errors, errors[1:]):
        assert np.all((coarse / fine > 1.7) & (coarse / fine < 3.0)), (names, coarse / fine)
