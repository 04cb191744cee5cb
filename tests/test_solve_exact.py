"""The exact Gaussian closure against closed forms, and Monte Carlo against the exact closure."""

import numpy as np
import pytest

import dmftc
from dmftc.classes.gaussian_data import solve
from dmftc.errors import SolverError

from .conftest import ROOT
from .oracles import ridge_curves

MODELS = ROOT / "models"
CURVES = ("overlap", "sq_norm", "train_loss", "test_loss")


def test_ridge_gd_matches_marchenko_pastur():
    # Exact mode has no sampling: the only error is floating point (and the quadrature of the
    # oracle, ~1e-13), so 1e-8 relative is a tight bound.
    params = dict(alpha=2.0, lr=0.2, lam=0.05, sigma=0.3)
    ds = dmftc.load(MODELS / "ridge_gd.dmft", **params).solve(steps=60, mode="exact")
    oracle = ridge_curves(params["alpha"], params["lam"], params["sigma"], m0=0.0, v0=0.0, T=60, lr=params["lr"])
    for name in CURVES:
        np.testing.assert_allclose(ds[name].values[1:], oracle[name][1:], rtol=1e-8, err_msg=name)


def test_ridge_warm_start_matches_marchenko_pastur(tmp_path):
    # warm start w0 = m0 w* + normal(0, 1): the initial law enters through its second moments
    model = tmp_path / "warm.dmft"
    model.write_text(
        (MODELS / "ridge_gd.dmft")
        .read_text()
        .replace("weights w ~ 0", "param m0 = 0.2\nweights w ~ m0 * wstar + normal(0, 1)")
    )
    ds = dmftc.load(model, alpha=3.0, lr=0.1, lam=0.5, sigma=0.0).solve(steps=50, mode="exact")
    oracle = ridge_curves(3.0, 0.5, 0.0, m0=0.2, v0=1.0, T=50, lr=0.1)
    for name in CURVES:
        np.testing.assert_allclose(ds[name].values, oracle[name], rtol=1e-8, err_msg=name)
    # reference values of docs/math/gaussian_data.md §11 (same setting), 4 digits
    np.testing.assert_allclose(
        ds.overlap.values[[0, 1, 2, 3, 5, 10]], [0.2000, 0.4300, 0.5555, 0.6308, 0.7123, 0.7824], atol=6e-5
    )


def test_monte_carlo_is_unbiased_on_a_linear_model():
    # Plain Monte Carlo (no quasi-random or antithetic inputs), 8 independent seeds: the mean must match the
    # exact closure within 4 standard errors of the mean (a false alarm has probability ~1e-4
    # per curve and step under a Gaussian error model).
    m = dmftc.load(MODELS / "ridge_gd.dmft")
    exact = m.solve(steps=15, mode="exact")
    runs = np.array(
        [
            [
                m.solve(steps=15, samples=3000, seed=seed, mode="monte-carlo", sampling="plain")[name].values
                for name in CURVES
            ]
            for seed in range(8)
        ]
    )
    mean, sem = runs.mean(axis=0), runs.std(axis=0, ddof=1) / np.sqrt(len(runs))
    for j, name in enumerate(CURVES):
        deviation = np.abs(mean[j, 1:] - exact[name].values[1:]) / sem[j, 1:]
        assert deviation.max() < 4, (name, deviation)
        assert sem[j, 1:].max() < 0.02, "the test must be sharp enough to see a 2% bias"


def test_variance_reduced_monte_carlo_is_exact_on_a_linear_model():
    # With orthonormalised Gaussian inputs every second moment of a linear model is exact, so
    # the Monte-Carlo pass reproduces the exact closure up to the Cholesky pivot threshold
    # (innovations below 1e-6 of a variance are dropped; measured deviation 3e-6).
    m = dmftc.load(MODELS / "ridge_heavy_ball.dmft")
    exact = m.solve(steps=25, mode="exact")
    mc = m.solve(steps=25, samples=1000, mode="monte-carlo")
    for name in CURVES:
        np.testing.assert_allclose(mc[name].values, exact[name].values, rtol=2e-5, atol=2e-5, err_msg=name)
    np.testing.assert_allclose(mc.R_theta.values, exact.R_theta.values, atol=1e-9)


@pytest.mark.parametrize("model", ["ridge_heavy_ball", "ridge_nesterov"])
@pytest.mark.parametrize("mode", ["exact", "monte-carlo"])
def test_momentum_with_beta_zero_is_gradient_descent(model, mode):
    gd = dmftc.load(MODELS / "ridge_gd.dmft", alpha=2.0, lr=0.1, lam=0.05, sigma=0.3)
    momentum = dmftc.load(MODELS / f"{model}.dmft", alpha=2.0, lr=0.1, lam=0.05, sigma=0.3, beta=0.0)
    a = gd.solve(steps=20, samples=2000, mode=mode)
    b = momentum.solve(steps=20, samples=2000, mode=mode)
    # exact mode: the same recursion, equal to rounding. Monte Carlo: Nesterov draws extra
    # inputs for the field at the iterate, so the samples differ; both are exact to the pivot
    # threshold on a linear model (see above).
    tolerance = 1e-12 if mode == "exact" else 2e-5
    for name in CURVES:
        np.testing.assert_allclose(b[name].values, a[name].values, rtol=tolerance, atol=tolerance, err_msg=name)


def test_logistic_beta_zero_heavy_ball_is_gradient_descent():
    # a non-linear data side (Monte Carlo with Jacobians): same random inputs, same numbers
    gd = dmftc.load(MODELS / "logistic_gd.dmft", lr=0.2).solve(steps=10, samples=2000)
    hb = dmftc.load(MODELS / "logistic_heavy_ball.dmft", lr=0.2, beta=0.0).solve(steps=10, samples=2000)
    for name in ("train_loss", "test_loss", "overlap", "sq_norm"):
        np.testing.assert_allclose(hb[name].values, gd[name].values, rtol=1e-10, err_msg=name)


def test_gradient_flow_converges_at_first_order():
    # the Euler step of a flow has error O(dt): halving dt halves the error against the exact
    # flow; the ratio is 2 + O(dt)
    errors = []
    for dt in (0.02, 0.01, 0.005):
        steps = round(1.0 / dt)
        ds = dmftc.load(MODELS / "ridge_flow.dmft").solve(steps=steps, dt=dt)
        oracle = ridge_curves(3.0, 0.5, 0.0, m0=0.2, v0=1.0, T=steps, dt=dt)
        errors.append(abs(ds.overlap.values[-1] - oracle["overlap"][-1]))
    assert 1.8 < errors[0] / errors[1] < 2.2 and 1.8 < errors[1] / errors[2] < 2.2, errors
    assert errors[-1] < 2e-3
    # the table F2 value m(1) = 0.7729 of docs/math/gaussian_data.md
    assert abs(ridge_curves(3.0, 0.5, 0.0, m0=0.2, v0=1.0, T=1, dt=1.0)["overlap"][1] - 0.7729) < 1e-4


def test_divergence_is_a_solver_error_naming_the_step():
    m = dmftc.load(MODELS / "ridge_gd.dmft", lr=3.0)
    with pytest.raises(SolverError, match=r"diverges: values grow past 1e\+50 at step \d+") as info:
        m.solve(steps=2000, mode="exact")
    assert "learning rate" in info.value.hint


def test_exact_mode_refused_with_reasons():
    m = dmftc.load(MODELS / "logistic_gd.dmft")
    with pytest.raises(SolverError, match="the loss is not quadratic"):
        m.solve(steps=3, mode="exact")


def test_jacobian_histories_on_a_subset_of_samples(monkeypatch):
    # Past the memory budget only the first samples carry the per-sample Jacobian histories
    # (solve.py). With room for 4096 of 8192 samples the responses are averages over half the
    # samples: the observables move by their Monte-Carlo error, measured 0.3 % at most at T = 20
    # (train loss); 2 % bounds it, while a history indexed with the wrong sample count gives
    # garbage or a crash.
    # One replica: the subset is chosen per replica.
    m = dmftc.load(ROOT / "models" / "diagonal_network.dmft")
    full = m.solve(steps=20, samples=8192, replicas=1)
    # room for 5000: the subset is the first 4096 (a power of 2: the first Sobol points are balanced)
    monkeypatch.setattr(solve, "HISTORY_BUDGET_BYTES", 2 * 5000 * (21 * 22 // 2 * 8))
    part = m.solve(steps=20, samples=8192, replicas=1)
    assert (full.attrs["response_samples"], part.attrs["response_samples"]) == (8192, 4096)
    assert (
        part.attrs["responses_parameter_side"] == "jacobian (per sample)"
        and part.attrs["responses_data_side"] == "jacobian"
    )
    for o in m.model.observables:
        np.testing.assert_allclose(part[o.name].values, full[o.name].values, rtol=0.02, err_msg=o.name)
