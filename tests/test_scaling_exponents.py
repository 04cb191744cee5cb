"""Fitted time exponents of the scaling-law models against their asymptotic laws
(docs/math/matrix_program.md §3.6, §3.8; examples/scaling_laws.md, examples/plrf_phases.md).

The fits are pre-asymptotic: a window of one to two decades in t sees a few tens of mode levels, so
the tolerance is 10 % of the exponent (the measured gaps are written next to each case). What the
tests guard is the scaling behaviour of the DMFT over the window, not the last digit of a fit."""

import numpy as np
import pytest

import dmftc

from .conftest import ROOT


def slope(ds, window) -> float:
    t = np.arange(len(ds.test_loss))
    inside = (t >= window[0]) & (t <= window[1])
    return float(np.polyfit(np.log(t[inside]), np.log(ds.test_loss.values[inside]), 1)[0])


@pytest.mark.parametrize(("a", "b"), [(1.75, 1.25), (1.5, 1.0)])
def test_random_features_fall_like_t_to_the_minus_a_minus_1_over_b(a, b):
    # models/rf_scaling_gd.dmft (Bordelon, Atanasov & Pehlevan 2024): with nu = 1, alpha = 4 and
    # K = 500 levels, neither the features nor the data bind while t^(1/b) levels are learned, and
    # the loss falls like t^(-(a - 1)/b). Measured over t in [5, 100]: -0.557 against -0.600 and
    # -0.487 against -0.500 (7 % and 3 %).
    ds = dmftc.load(ROOT / "models" / "rf_scaling_gd.dmft", a=a, b=b, nu=1.0, alpha=4.0, K=500, lr=0.5).solve(steps=100)
    expected = -(a - 1) / b
    assert slope(ds, (5, 100)) == pytest.approx(expected, rel=0.10)


@pytest.mark.parametrize(("alpha", "beta"), [(0.8, 0.3), (0.6, 0.8)])
def test_plrf_with_many_features_falls_like_population_gradient_descent(alpha, beta):
    # models/plrf_sgd.dmft with 16 features per latent coordinate: the features barely distort the
    # spectrum and the loss falls like population GD's t^(-(2 alpha + 2 beta - 1)/(2 alpha))
    # (examples/plrf_phases.py). Measured over t in [5, 50]: -0.739 against -0.750 (phase Ia) and
    # -1.380 against -1.500 (phase III): 1.5 % and 8 %. At nu = 1 phase III gives -0.855, outside
    # this tolerance: the test sees the features' spectrum.
    m = dmftc.load(ROOT / "models" / "plrf_sgd.dmft", alpha=alpha, beta=beta, nu=16.0, bsz=0.1, K=200, lr=0.5)
    expected = -(2 * alpha + 2 * beta - 1) / (2 * alpha)
    assert slope(m.solve(steps=50), (5, 50)) == pytest.approx(expected, rel=0.10)
