"""The spectral solver of linear data models (docs/math/gaussian_data.md §5.2) against the exact
closure, which it must equal to rounding, and against the Marchenko–Pastur integrals at long
horizons."""

import numpy as np
import pytest

import dmftc
from dmftc.classes.gaussian_data.solve import DEFAULT_LOG_STEPS, FULL_OUTPUT_STEPS, written_steps
from dmftc.errors import SolverError

from .conftest import ROOT
from .oracles import ridge_curves

MODELS = ROOT / "models"
TWO_TIME = ("C_theta", "R_theta", "C_g", "R_g")

# Every constant the per-direction recursion carries: a mean in the initial law and in a uniform
# teacher, offsets in the label, the loss gradient and the site map, momentum, a penalty centre.
OFFSETS = """
model offsets
param alpha = 0.7
param lr    = 0.3
param beta  = 0.3
data gaussian(ratio = alpha)
teacher wstar ~ uniform(-0.2, 1.4)
label y = 0.8 * hstar + 0.4 * eps + 0.25
weights w ~ normal(0.5, 0.7)
state v ~ 0
predict h = x . w
loss (h - y)^2 / 2 + 0.1 * h
penalty 0.1 * (w - 0.2)^2 / 2
update:
    v = beta * v - lr * grad(w)
    w = w + v + 0.01
observe train_loss = train(loss)
observe test_loss  = test(loss)
observe overlap    = mean(w * wstar)
observe mean_w     = mean(w)
observe mix        = mean(w * v + 2 * wstar)
"""


def assert_same(spectral, closure, atol):
    assert spectral.attrs["method"] == "spectral" and closure.attrs["method"] == "dmft"
    for name in [*spectral.data_vars]:
        np.testing.assert_allclose(spectral[name].values, closure[name].values, rtol=0, atol=atol, err_msg=name)


@pytest.mark.parametrize(
    "name", ["ridge_gd", "ridge_heavy_ball", "ridge_nesterov", "langevin_ridge", "linear_regression_flow"]
)
def test_equals_the_exact_closure_on_bundled_models(name):
    # Both are exact: the closure in the coefficient basis, the spectral solver direction by
    # direction. They differ by rounding and the Gauss rule (1e-13 here); 1e-10 is a tight bound.
    m = dmftc.load(MODELS / f"{name}.dmft")
    assert_same(m.solve(steps=40, method="spectral"), m.solve(steps=40, method="dmft"), atol=1e-10)


@pytest.mark.parametrize("alpha", [0.7, 1.0, 1.7])
def test_equals_the_exact_closure_with_every_offset(tmp_path, alpha):
    # alpha < 1: directions of V without a partner (the atom at 0); alpha > 1: directions of U
    # without one (a constant part of C_g); alpha = 1: the density's edge at 0 (Gauss-Jacobi)
    path = tmp_path / "offsets.dmft"
    path.write_text(OFFSETS)
    m = dmftc.load(path, alpha=alpha)
    assert_same(m.solve(steps=30, method="spectral"), m.solve(steps=30, method="dmft"), atol=1e-9)


def test_a_step_size_schedule_takes_the_step_by_step_path(tmp_path):
    # a map that depends on the step is advanced one step at a time; without a schedule the
    # solver jumps between written steps by binary powering (both must equal the closure)
    path = tmp_path / "schedule.dmft"
    path.write_text(
        (MODELS / "ridge_heavy_ball.dmft").read_text().replace("lr * grad(w)", "lr / (1 + t / 10) * grad(w)")
    )
    assert "lr / (1 + t / 10)" in path.read_text()
    m = dmftc.load(path)
    assert_same(m.solve(steps=40, method="spectral"), m.solve(steps=40, method="dmft"), atol=1e-10)
    sparse = m.solve(steps=300, method="spectral", log_steps=30)
    full = m.solve(steps=300, method="dmft").sel(step=sparse.step.values, step2=sparse.step.values)
    for name in sparse.data_vars:
        np.testing.assert_allclose(sparse[name].values, full[name].values, rtol=0, atol=1e-10, err_msg=name)


def test_log_spaced_steps_hold_the_same_values():
    m = dmftc.load(MODELS / "ridge_heavy_ball.dmft")
    full = m.solve(steps=300, method="dmft")
    sparse = m.solve(steps=300, method="spectral", log_steps=40)
    steps = sparse.step.values
    assert steps[0] == 0 and steps[-1] == 300 and len(steps) == 41 and np.all(np.diff(steps) > 0)
    assert sparse.attrs["written_steps"] == "step 0 and 40 log-spaced"
    subset = full.sel(step=steps, step2=steps)
    for name in sparse.data_vars:
        np.testing.assert_allclose(sparse[name].values, subset[name].values, rtol=0, atol=1e-10, err_msg=name)
    np.testing.assert_array_equal(sparse.time.values, steps)


def test_the_default_writes_log_spaced_steps_on_long_runs():
    assert len(written_steps(FULL_OUTPUT_STEPS, None)) == FULL_OUTPUT_STEPS + 1
    long = written_steps(10 * FULL_OUTPUT_STEPS, None)
    assert len(long) == DEFAULT_LOG_STEPS + 1 and long[-1] == 10 * FULL_OUTPUT_STEPS


def test_auto_takes_the_spectral_solver_only_where_the_closure_is_costly():
    m = dmftc.load(MODELS / "ridge_gd.dmft")
    assert m.solve(steps=20).attrs["method"] == "dmft"
    assert m.solve(steps=1001, log_steps=10).attrs["method"] == "spectral"
    assert m.solve(steps=1001, log_steps=10, average_over="label-noise").attrs["method"] == "dmft"


@pytest.mark.parametrize(
    ("model", "options", "kind"),
    [
        ("logistic_gd", {}, "not-available"),
        ("ridge_gd", {"mode": "monte-carlo"}, "bad-option"),
        ("ridge_gd", {"average_over": "init"}, "bad-option"),
    ],
)
def test_refusals_say_why(model, options, kind):
    with pytest.raises(SolverError) as info:
        dmftc.load(MODELS / f"{model}.dmft").solve(steps=5, method="spectral", **options)
    assert info.value.kind == kind


@pytest.mark.slow
def test_ten_thousand_steps_of_ridge_gd_against_marchenko_pastur():
    # T = 10^4 (the long-horizon target of the issue), at 60 log-spaced steps against the
    # Marchenko-Pastur integrals of tests/oracles.py (scipy quadrature, independent of the
    # solver's Gauss rule): 1e-8 relative, the oracle's own precision.
    params = dict(alpha=2.0, lr=0.2, lam=0.05, sigma=0.3)
    ds = dmftc.load(MODELS / "ridge_gd.dmft", **params).solve(steps=10_000, log_steps=60)
    assert ds.attrs["method"] == "spectral"
    steps = ds.step.values
    oracle = ridge_curves(*(params[p] for p in ("alpha", "lam", "sigma")), 0.0, 0.0, None, lr=params["lr"], steps=steps)
    for name in ("overlap", "sq_norm", "train_loss", "test_loss"):
        np.testing.assert_allclose(ds[name].values[1:], oracle[name][1:], rtol=1e-8, err_msg=name)


def test_a_log_spaced_result_is_plotted_on_a_log_time_axis():
    from dmftc.results import plot

    ds = dmftc.load(MODELS / "ridge_gd.dmft").solve(steps=300, log_steps=20)
    fig = plot.observables_figure([ds])
    try:
        scales = {ax.get_xscale() for ax in fig.axes if ax.get_visible() and ax.has_data()}
        assert scales == {"symlog"}
    finally:
        plot.plt.close(fig)


@pytest.mark.slow
def test_a_flow_to_time_ten_thousand():
    # 10^6 Euler steps of dt = 0.01 (the DMFT's scheme for a flow), by binary powering between
    # written steps. Euler's fixed point is the flow's, so once converged (t >= 1000) the curves
    # equal the Marchenko-Pastur integrals of the exact flow (tests/oracles.py) to their 1e-8.
    ds = dmftc.load(MODELS / "ridge_flow.dmft").solve(steps=1_000_000, dt=0.01, log_steps=40)
    late = ds.time.values >= 1000
    steps = ds.step.values[late]
    oracle = ridge_curves(3.0, 0.5, 0.0, m0=0.2, v0=1.0, T=None, dt=0.01, steps=steps)
    for name in ("overlap", "sq_norm", "train_loss", "test_loss"):
        np.testing.assert_allclose(ds[name].values[late], oracle[name], rtol=1e-8, err_msg=name)
