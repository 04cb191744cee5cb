"""Trained matrices in matrix programs (docs/math/matrix_program.md §2.1, eq. mp-trained): a
matrix that grows by c u vᵀ / N_cols during the run keeps its Gaussian part's cavity rule and
adds, to each later field, the past factors weighted by a correlation. Checked against a closed
form (a first layer trained under a fixed readout is gradient descent on linear regression, in
both directions of the product) and against the finite-size simulation of a two-layer linear
network at three widths."""

from __future__ import annotations

import numpy as np
import pytest

import dmftc

from .conftest import ROOT
from .oracles import _mp_integral, ridge_curves, two_layer_linear_dmft
from .test_matrix_program import consistent

# A first layer W trained by c u vᵀ / N under a fixed readout v: the end-to-end weights a = Wᵀ v
# move by -lr q (v·v) / N_d = -lr nu E[v²] q, so a does gradient descent on linear regression
# with step lr nu / alpha on XᵀX, from a(0) = W(0)ᵀ v ~ N(0, nu). FORWARD writes the same system
# with V = Wᵀ: V[d, n] (entries of variance nu / N_n = 1 / N_d) and outer(q, v) / N_n.
LAYER = """\
model trained_layer
param nu = 0.7
param alpha = 2.0
param lr = 0.4
space d
space n = nu * d
space p = alpha * d
const beta[d] ~ normal(0, 1)
const v[n] ~ normal(0, 1)
matrix X[p, d] ~ gaussian()
{matrix}
weights w[d] ~ 0
update:
    a = {product}
    r = X . (a - beta)
    q = (X' . r) / alpha
    {training}
    w = a
observe test_loss = mean((a - beta)^2) / 2
observe train_loss = mean(r^2) / 2
"""
FORMS = {
    "transposed": dict(matrix="matrix W[n, d] ~ gaussian()", product="W' . v", training="W = W - lr * outer(v, q)"),
    "forward": dict(
        matrix="matrix V[d, n] ~ gaussian(var = nu)", product="V . v", training="V = V - lr * nu * outer(q, v)"
    ),
}


@pytest.mark.parametrize("form", FORMS)
def test_a_layer_trained_under_a_fixed_readout_is_linear_regression(tmp_path, form):
    path = tmp_path / "layer.dmft"
    path.write_text(LAYER.format(**FORMS[form]))
    T, nu, alpha, lr = 30, 0.7, 2.0, 0.4
    ds = dmftc.load(path).solve(steps=T)
    assert ds.attrs["mode"] == "exact"
    oracle = ridge_curves(alpha=alpha, lam=0.0, sigma=0.0, m0=0.0, v0=nu, T=T, lr=lr * nu / alpha)
    # both sides are exact in float64: the closure over its inputs, the oracle by quadrature
    for name in ("test_loss", "train_loss"):
        np.testing.assert_allclose(ds[name].values, oracle[name], rtol=1e-9, atol=1e-12)
    assert ds.test_loss.values[-1] < 0.2 * ds.test_loss.values[0]  # the change of W does the learning


def test_the_rate_may_follow_a_schedule(tmp_path):
    # c may use t: a step lr / (1 + t / 10) is gradient descent with that schedule
    path = tmp_path / "layer.dmft"
    form = dict(FORMS["transposed"], training="W = W - lr / (1 + t / 10) * outer(v, q)")
    path.write_text(LAYER.format(**form))
    ds = dmftc.load(path).solve(steps=8)
    nu, alpha, lr = 0.7, 2.0, 0.4
    # the oracle's GD with a schedule: a product of the per-step factors over the spectrum
    for t in (1, 4, 8):
        decay = lambda s, t=t: np.prod([1 - lr / (1 + k / 10) * nu / alpha * s for k in range(t)])  # noqa: E731
        expected = (1 + nu) * _mp_integral(lambda s: decay(s) ** 2, alpha) / 2
        assert ds.test_loss.values[t] == pytest.approx(expected, rel=1e-9)


def test_a_trained_program_the_closure_cannot_take_is_refused(tmp_path):
    path = tmp_path / "layer.dmft"
    path.write_text(LAYER.format(**FORMS["transposed"]).replace("r = X . (a - beta)", "r = X . tanh(a - beta)"))
    with pytest.raises(dmftc.DmftcError, match="does not implement trained matrices") as e:
        dmftc.load(path).solve(steps=3)
    assert e.value.kind == "not-available"


def test_the_derivation_shows_the_trained_part(tmp_path):
    path = tmp_path / "layer.dmft"
    path.write_text(LAYER.format(**FORMS["transposed"]))
    text = dmftc.load(path).derive().render("text")
    assert "ΔW" in text and "mp-trained" in text
    # the field of Wᵀ v gets nu Σ c q(s) E_n[v v], q = h3 / alpha: the transposed direction carries the ratio
    assert "Σ_s<t (-lr*nu) (h3/alpha)(s) E_n[(v)(s) (v)(t)]" in text


# ------------------------------------------------------------- a two-layer linear network

DLN = ROOT / "models" / "two_layer_linear_gd.dmft"


@pytest.mark.parametrize(
    "setting",
    [
        dict(nu=1.0, alpha=2.0, gamma0=1.0, lr=0.2, sigma=0.0),  # muP, more data than inputs
        dict(nu=0.5, alpha=0.7, gamma0=1.0, lr=0.05, sigma=0.3),  # fewer samples, label noise
        dict(nu=2.0, alpha=1.5, gamma0=2.0**-0.5, lr=0.3, sigma=0.5),  # NTK (gamma0 = 1 / sqrt(nu))
    ],
)
def test_two_layer_network_is_its_hand_derived_dmft(setting):
    # tests/oracles.py solves the network's DMFT as derived by hand (three processes, T x T
    # fixed point); dmftc derives it from the model file. Both are exact: 1e-10 relative.
    T = 20
    ds = dmftc.load(DLN, **setting).solve(steps=T)
    oracle = two_layer_linear_dmft(T=T, **setting)
    for name in ("test_loss", "train_loss"):
        np.testing.assert_allclose(ds[name].values[:T], oracle[name], rtol=1e-10)
    assert ds.test_loss.values[T] < 0.7 * ds.test_loss.values[0]


@pytest.mark.parametrize("nu", [0.5, 1.0, 2.0])
def test_two_layer_network_against_simulation(nu):
    # three widths N = nu D, D = 600 (300 to 1200 hidden units), 12 runs, 30 steps, label noise:
    # every observable within the compare limit (3 standard errors, Bonferroni over the steps)
    m = dmftc.load(DLN, nu=nu, sigma=0.3)
    consistent(m.solve(steps=30), m.simulate(steps=30, dim=600, runs=12, seed=2), ["train_loss", "test_loss"])


@pytest.mark.slow
def test_two_layer_network_past_the_stability_edge_is_the_wide_limit():
    # lr = 0.3 at nu = 1 is past the edge 0.26 of eq. mp-dln-edge: finite networks follow the
    # DMFT for a time that grows with D (docs/math/matrix_program.md §6.8). At D = 4000, 12 runs,
    # every observable within the compare limit over 40 steps, and the test loss within 4 s.e.
    # at t = 10, 20, 30, 40 (Student's t with 11 degrees of freedom: P(|t| > 4) = 0.002 per
    # point). Measured: |z| <= 2.4 here; at D = 1000 the same check fails (z = -4.6 at t = 30).
    m = dmftc.load(DLN, nu=1.0, lr=0.3)
    dmft, sim = m.solve(steps=40), m.simulate(steps=40, dim=4000, runs=12, seed=1)
    consistent(dmft, sim, ["train_loss", "test_loss"])
    t = [10, 20, 30, 40]
    z = (sim.test_loss.values[t] - dmft.test_loss.values[t]) / sim.test_loss_sem.values[t]
    assert np.all(np.abs(z) < 4), z


def test_three_layer_network_against_simulation():
    # two trained matrices, one of them square (W2[n, n]: both directions, ratio 1): 12 runs
    # at D = 600, 20 steps, within the compare limit
    m = dmftc.load(ROOT / "models" / "three_layer_linear_gd.dmft", nu=1.5, sigma=0.3)
    consistent(m.solve(steps=20), m.simulate(steps=20, dim=600, runs=12, seed=4), ["train_loss", "test_loss"])


# ------------------------------------------------------------------------------ in a flow

NETWORK = """\
model network
param nu = 1.5
param alpha = 2.0
param gamma0 = 1.0
{rate}
space d
space n = nu * d
space p = alpha * d
const beta[d] ~ normal(0, 1)
matrix X[p, d] ~ gaussian()
matrix W[n, d] ~ gaussian()
weights w[n] ~ normal(0, 1)
{block}
observe w_norm = mean(w^2)
"""
UPDATE = """\
update:
    q = (X' . (X . (beta - (W' . w) / (gamma0 * nu)))) / alpha
    b = W . q
    W = W + lr * gamma0 * outer(w, q)
    w = w + lr * gamma0 * b
"""
FLOW = """\
flow:
    dW/dt = gamma0 * outer(w, (X' . (X . (beta - (W' . w) / (gamma0 * nu)))) / alpha)
    dw/dt = gamma0 * (W . ((X' . (X . (beta - (W' . w) / (gamma0 * nu)))) / alpha))
"""


def test_a_trained_matrix_in_a_flow_is_an_euler_step_after_the_uses(tmp_path):
    # dW/dt = c outer(u, v) steps W by dt c u vᵀ / N after every use of the step: the flow at
    # dt = 0.1 is the update with lr = 0.1 (both exact: to rounding), and agrees with simulation
    flow, update = tmp_path / "flow.dmft", tmp_path / "update.dmft"
    flow.write_text(NETWORK.format(rate="", block=FLOW))
    update.write_text(NETWORK.format(rate="param lr = 0.1", block=UPDATE))
    m = dmftc.load(flow)
    a, b = m.solve(steps=20, dt=0.1), dmftc.load(update).solve(steps=20)
    np.testing.assert_allclose(a.w_norm.values, b.w_norm.values, rtol=1e-12)
    np.testing.assert_allclose(a.C_w.values, b.C_w.values, rtol=1e-12, atol=1e-14)
    assert a.w_norm.values[-1] > 1.03 * a.w_norm.values[0]  # the readout grows (by 6 %): the flow moves
    consistent(a, m.simulate(steps=20, dt=0.1, dim=600, runs=12, seed=5), ["w_norm"])


FLOW_WITH_TEMPORARIES = """\
flow:
    a = W' . w
    q = (X' . (X . (beta - a / (gamma0 * nu)))) / alpha
    dW/dt = gamma0 * outer(w, q)
    dw/dt = gamma0 * (W . q)
observe test_loss = mean((beta - a / (gamma0 * nu))^2)
"""


def test_a_flow_names_its_temporaries_and_observes_them(tmp_path):
    # temporaries in a flow are evaluated at the current state (docs/language.md §15): the flow
    # written with them is the flow written inline (to rounding), and its test loss, which needs
    # the product W'w, is the update's at lr = dt (two_layer_linear_gd, sigma = 0)
    named, inline = tmp_path / "named.dmft", tmp_path / "inline.dmft"
    named.write_text(NETWORK.format(rate="", block=FLOW_WITH_TEMPORARIES))
    inline.write_text(NETWORK.format(rate="", block=FLOW))
    a, b = dmftc.load(named).solve(steps=20, dt=0.1), dmftc.load(inline).solve(steps=20, dt=0.1)
    np.testing.assert_allclose(a.w_norm.values, b.w_norm.values, rtol=1e-12)
    update = dmftc.load(DLN, nu=1.5, lr=0.1).solve(steps=20)
    np.testing.assert_allclose(a.test_loss.values, update.test_loss.values, rtol=1e-12)


def test_a_flow_changes_weights_only_through_their_derivatives(tmp_path):
    path = tmp_path / "bad.dmft"
    path.write_text(NETWORK.format(rate="", block=FLOW + "    w = 2 * w\n"))
    with pytest.raises(dmftc.DmftcError, match="cannot assign to 'w' in a flow: it is") as error:
        dmftc.load(path)
    assert "dw/dt" in str(error.value.hint)


def test_one_pass_sgd_on_the_two_layer_network():
    # a fresh batch every step: the batch's loss is a test loss, exactly in the DMFT (to
    # rounding), and the run agrees with simulation (D = 600, 12 runs, within the compare limit);
    # repeated data of the same size (the _gd model) end far higher in test loss: they overfit
    m = dmftc.load(ROOT / "models" / "two_layer_linear_sgd.dmft", sigma=0.3)
    ds = m.solve(steps=40)
    np.testing.assert_allclose(ds.train_loss.values, ds.test_loss.values, rtol=1e-12)
    consistent(ds, m.simulate(steps=40, dim=600, runs=12, seed=3), ["train_loss", "test_loss"])
    reused = dmftc.load(DLN, sigma=0.3, alpha=0.5).solve(steps=40)
    assert reused.test_loss.values[-1] > 3 * ds.test_loss.values[-1]
