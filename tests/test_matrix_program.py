"""The matrix_program class (docs/math/matrix_program.md): the language, the derivation by the
rule per matrix use, the exact and Gaussian closures against closed forms and the reference
values of §5, the Monte-Carlo pass against the exact closure, the subsumption of the
linear_system and gaussian_data classes, and DMFT against the finite-size simulation.

Reference values of §5 are compared to half a unit of their last printed digit (the exact
closures reproduce every printed digit). Closed forms: 1e-10 relative (both sides
are exact in float64)."""

from __future__ import annotations

import decimal
import re

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import comb
from typer.testing import CliRunner

import dmftc
from dmftc.cli import app
from dmftc.results.agreement import compare_datasets, verdict

from .conftest import ROOT

MODELS = ROOT / "models"
runner = CliRunner()

HEADER = """\
model program
param alpha = 2.0
param lr = 0.1
space d
space n = alpha * d
matrix X[n, d] ~ gaussian()
"""


def reference(value, printed: str):
    """``value`` agrees with a reference value printed as ``printed`` to half a unit of its last digit."""
    exponent = decimal.Decimal(printed).as_tuple().exponent
    assert abs(value - float(printed)) <= 0.5 * 10.0**exponent * (1 + 1e-9), (value, printed)


def consistent(a, b, names):
    """Every observable within the compare limit (3 standard errors, Bonferroni-corrected over
    the common times): the test's statistical tolerance."""
    rows = compare_datasets(a, b)
    for name in names:
        ok, sentence = verdict(name, [row for row in rows if row.observable == name])
        assert ok, sentence


# ----------------------------------------------------------------------------------- language

BAD = {
    # a product whose vector lives in the wrong space
    "space_mismatch": (
        "weights w[d] ~ 0\nupdate:\n    r = X . w\n    w = w - lr * (X . r)\nobserve q = mean(w^2)\n",
        "space-mismatch",
        "'X . r' needs r in space 'd', but it lives in 'n'",
    ),
    "mixed_spaces": (
        "weights w[d] ~ 0\nupdate:\n    r = X . w\n    w = w + r\nobserve q = mean(w^2)\n",
        "space-mismatch",
        "mixes spaces",
    ),
    "unused_space": (
        "space e\nweights w[d] ~ 0\nupdate:\n    w = w - lr * (X' . (X . w))\nobserve q = mean(w^2)\n",
        "unused-space",
        "space 'e' is never used",
    ),
    "undeclared_matrix": (
        "weights w[d] ~ 0\nupdate:\n    w = w - lr * (Y . w)\nobserve q = mean(w^2)\n",
        "undefined-name",
        "unknown name 'Y'",
    ),
    "unknown_space": (
        "weights w[e] ~ 0\nupdate:\n    w = w - lr * (X' . (X . w))\nobserve q = mean(w^2)\n",
        "undefined-name",
        "unknown name 'e'",
    ),
    "missing_space": (
        "weights w ~ 0\nupdate:\n    w = w - lr * (X' . (X . w))\nobserve q = mean(w^2)\n",
        "missing-space",
        "needs an index space",
    ),
    "corr_of_rectangular": (
        "matrix Y[n, d] ~ gaussian(corr = 0.5)\nweights w[d] ~ 0\nupdate:\n    w = w - lr * (Y' . (Y . w))\n",
        "bad-arguments",
        "only a square matrix has a symmetry",
    ),
    "transpose_outside_product": (
        "weights w[d] ~ 0\nupdate:\n    w = w - lr * X'\n",
        "misplaced-function",
        "transpose() can only be used as X' . v",
    ),
    "grad_in_program": (
        "weights w[d] ~ 0\nupdate:\n    w = w - lr * grad(w) + X' . (X . w)\n",
        "grad-in-matrix-program",
        "no loss to differentiate",
    ),
    "unused_matrix": (
        "matrix Y[d, d] ~ gaussian()\nweights w[d] ~ 0\nupdate:\n    w = w - lr * (X' . (X . w))\n",
        "unused-matrix",
        "matrix 'Y' is never used",
    ),
    "scaled_matrix": (
        "weights w[d] ~ 0\nupdate:\n    w = w - (lr * X) . w\n",
        "bad-product",
        "the left of '.' is a matrix",
    ),
    # trained matrices (docs/language.md §18): W = W + c * outer(u, v)
    "misplaced_outer": (
        "weights w[d] ~ 0\nupdate:\n    w = w - lr * (X' . (X . w)) + outer(w, w)\n",
        "misplaced-outer",
        "outer(u, v) is the change of a trained matrix",
    ),
    "trained_fresh_matrix": (
        "matrix F[n, d] ~ gaussian(fresh = 1)\nweights w[d] ~ 0\nupdate:\n    r = F . w\n"
        "    F = F + lr * outer(r, w)\n    w = w - lr * (X' . (X . w))\n",
        "bad-training",
        "'F' is drawn anew every step (fresh = 1): it cannot be trained",
    ),
    "per_site_rate": (
        "weights w[d] ~ 0\nupdate:\n    r = X . w\n    X = X - w * outer(r, w)\n    w = w - lr * (X' . r)\n",
        "bad-training",
        "must be a parameter expression",
    ),
    "outer_spaces": (
        "weights w[d] ~ 0\nupdate:\n    r = X . w\n    X = X - lr * outer(w, r)\n    w = w - lr * (X' . r)\n",
        "space-mismatch",
        "needs outer(u, v) with u in 'n' and v in 'd'",
    ),
    "not_a_rank_one_change": (
        "weights w[d] ~ 0\nupdate:\n    r = X . w\n    X = 2 * X\n    w = w - lr * (X' . r)\n",
        "bad-training",
        "a matrix update is X = X + c * outer(u, v)",
    ),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_misuses_are_located_errors(tmp_path, case):
    body, kind, message = BAD[case]
    path = tmp_path / f"{case}.dmft"
    path.write_text(HEADER + body)
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert f"{path}:" in result.output  # file:line:col
    with pytest.raises(dmftc.DmftcError) as e:
        dmftc.load(path)
    assert e.value.kind == kind


def test_index_spaces_belong_to_matrix_programs(tmp_path):
    path = tmp_path / "ridge.dmft"
    text = (MODELS / "ridge_gd.dmft").read_text().replace("weights w ~ 0", "weights w[d] ~ 0")
    path.write_text(text)
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 2 and "index spaces are for matrix programs" in result.output


def test_frozen_and_repeated_uses():
    # X . wstar does not change: one use, at the first step; X . w twice in a step is one use
    spec = dmftc.load(MODELS / "ridge_program.dmft").model.spec
    assert [(u.matrix, u.transpose, u.frozen) for u in spec.uses] == [
        ("X", False, False),
        ("X", False, True),
        ("X", True, False),
    ]


def test_derivation_shows_fields_memory_and_closure():
    text = dmftc.load(MODELS / "random_features_gd.dmft").derive().render("text")
    # the backward use of X lands in m with the factor phi = P/M, its memory from both forward uses
    assert "h4(t) = ξ4 + phi Σ_(s,2)<(t,4) R_p[h2 - h3 ← h2](t,s) (beta)(s)" in text
    assert "E[ξ4(t) ξ4(s)] = phi E_p[(h2 - h3)(t) (h2 - h3)(s)]" in text
    assert "exact: every variable is linear" in text
    text = dmftc.load(MODELS / "scs_network.dmft").derive().render("text")
    assert "no memory" in text and "E[ξ1(t) ξ1(s)] = g**2 E_N[(tanh(x))(t) (tanh(x))(s)]" in text


# ------------------------------------------------------------------- exact closures vs oracles


def test_random_feature_gd_reference_values():
    # docs/math/matrix_program.md §5 (3): P/M = 1.5, lr = 0.05, steps 1 / 24 / 100 / 199
    expected = {
        0.5: ("0.39406 0.19017 0.16863 0.16689".split(), "0.43906 0.34918 0.36286 0.37095".split()),
        2.0: ("0.38703 0.05412 0.011114 0.004150".split(), "0.43203 0.16367 0.067092 0.03449".split()),
    }
    for psi, (train, test) in expected.items():
        ds = dmftc.load(MODELS / "random_features_gd.dmft", psi=psi).solve(steps=199)
        assert ds.attrs["mode"] == "exact"
        for got, want in zip(ds.train_loss.values[[1, 24, 100, 199]], train):
            reference(got, want)
        for got, want in zip(ds.test_loss.values[[1, 24, 100, 199]], test):
            reference(got, want)
    # the test loss is non-monotone without label noise for N < M: a minimum, then a rise
    low = dmftc.load(MODELS / "random_features_gd.dmft", psi=0.5).solve(steps=199).test_loss.values
    assert int(np.argmin(low)) == 24 and low[199] > low[24] + 0.02


def test_ridge_program_is_the_gaussian_data_dmft():
    program = dmftc.load(MODELS / "ridge_program.dmft").solve(steps=39)
    glm = dmftc.load(MODELS / "ridge_gd.dmft", alpha=2.0, lr=0.2, lam=0.05, sigma=0.3).solve(steps=39)
    for name in ("overlap", "sq_norm", "train_loss", "test_loss"):
        np.testing.assert_allclose(program[name].values, glm[name].values, rtol=1e-10, atol=1e-13)
    # and docs/math/matrix_program.md §5 (1)
    for name, values in {"overlap": "0.40000 0.86106 0.94790", "test_loss": "0.26860 0.093872 0.084033"}.items():
        for got, want in zip(program[name].values[[1, 10, 39]], values.split()):
            reference(got, want)


def _linear_network(tmp_path, eta):
    path = tmp_path / "linear_network.dmft"
    path.write_text(
        "model linear_network\nparam g = 0.9\nparam eta = 0.0\nspace N\n"
        "matrix J[N, N] ~ gaussian(var = g^2, corr = eta)\nstate x[N] ~ normal(0, 1)\n"
        "update:\n    x = 0.9 * x + 0.1 * (J . x)\nobserve variance = mean(x^2)\n"
    )
    return dmftc.load(path, eta=eta)


def test_square_matrices_against_closed_forms(tmp_path):
    # x <- a x + b J x, x(0) ~ N(0, 1): Ginibre (eta = 0) C(t,t) = sum_k binom(t,k)^2 a^(2(t-k)) (b g)^(2k);
    # symmetric (eta = 1) C(t,t) = int rho_sc(l) (a + b l)^(2t) dl, semicircle of radius 2g
    a, b, g = 0.9, 0.1, 0.9
    steps = (10, 30, 60, 99)
    ginibre = _linear_network(tmp_path, 0.0).solve(steps=99).variance.values
    symmetric = _linear_network(tmp_path, 1.0).solve(steps=99).variance.values
    radius = 2 * g
    for t in steps:
        binomial = sum(comb(t, k, exact=True) ** 2 * a ** (2 * (t - k)) * (b * g) ** (2 * k) for k in range(t + 1))
        semicircle = quad(
            lambda x: 2 * np.sqrt(radius**2 - x * x) / (np.pi * radius**2) * (a + b * x) ** (2 * t),
            -radius,
            radius,
            epsrel=1e-13,
            limit=200,
        )[0]
        assert ginibre[t] == pytest.approx(binomial, rel=1e-10)
        assert symmetric[t] == pytest.approx(semicircle, rel=1e-9)
    # the elliptic case, docs/math/matrix_program.md §5 (2b)
    elliptic = _linear_network(tmp_path, 0.5).solve(steps=99).variance.values
    for t, want in zip(steps, "0.36919 0.53185 2.3397 23.44".split()):
        reference(elliptic[t], want)


def test_scs_gaussian_closure_reference_values():
    # docs/math/matrix_program.md §5 (2): h = 0.1, quadrature column; times 1 / 10 / 20 / 39.9
    ds = dmftc.load(MODELS / "scs_network.dmft").solve(steps=399)
    assert ds.attrs["mode"] == "exact"
    for got, want in zip(ds.variance.values[[10, 100, 200, 399]], "0.35724 0.66781 0.72517 0.74182".split()):
        reference(got, want)
    C = ds.C_x.values
    for got, want in (
        (C[100, 90], "0.63536"),
        (C[399, 389], "0.72825"),
        (C[100, 50], "0.20236"),
        (C[399, 349], "0.49344"),
    ):
        reference(got, want)
    # below g = 1 the activity decays at the rate of the linearised Ginibre map
    quiet = dmftc.load(MODELS / "scs_network.dmft", g=0.5).solve(steps=399).variance.values
    for got, want in zip(quiet[[10, 100, 200, 399]], "0.14417 3.190e-6 7.804e-11 7.475e-20".split()):
        reference(got, want)
    # the linearised map x <- (1 - h) x + h J x: C_lin(t) = sum_k binom(t,k)^2 (1-h)^(2(t-k)) (h g)^(2k)
    linear = [
        sum(comb(t, k, exact=True) ** 2 * 0.9 ** (2 * (t - k)) * 0.05 ** (2 * k) for k in range(t + 1))
        for t in (349, 399)
    ]
    slope, slope_linear = np.log(quiet[399] / quiet[349]) / 50, np.log(linear[1] / linear[0]) / 50
    assert slope == pytest.approx(slope_linear, abs=5e-5)  # the same late rate, -0.1039 per step
    assert quiet[399] / linear[1] == pytest.approx(0.705, abs=0.005)  # tanh's early contraction


def test_nonhermitian_drive_reference_values():
    # docs/math/matrix_program.md §5 (5): n/M = 0.5, P_f/M = 1, dt = 0.05
    ds = dmftc.load(MODELS / "nonhermitian_drive.dmft").solve(steps=399, dt=0.05)
    times = [1, 5, 15, 40, 100, 200, 399]
    for got, want in zip(ds.loss.values[times], "0.91500 0.80207 0.77041 0.79427 0.85664 0.91712 0.96836".split()):
        reference(got, want)
    assert int(np.argmin(ds.loss.values)) == 15  # the minimum near t = 0.75, then a rise


def test_linear_systems_written_as_programs(tmp_path):
    # the same DMFT as the linear_system class (its cavity closure), to rounding
    wishart = tmp_path / "wishart_program.dmft"
    wishart.write_text(
        "model wishart_program\nparam ratio = 0.5\nparam temp = 0.2\nspace d\nspace n = ratio * d\n"
        "matrix X[n, d] ~ gaussian()\nweights x[d] ~ normal(0, 1)\n"
        "flow:\n    dx/dt = -(X' . (X . x)) / ratio + sqrt(2 * temp) * gauss()\nobserve sq_norm = mean(x^2)\n"
    )
    ginibre = tmp_path / "ginibre_program.dmft"
    ginibre.write_text(
        "model ginibre_program\nparam z = 0.5\nspace d\nmatrix M[d, d] ~ gaussian()\nweights x[d] ~ normal(0, 1)\n"
        "flow:\n    dx/dt = -(M . x) - z * x\nobserve sq_norm = mean(x^2)\n"
    )
    pairs = [
        (MODELS / "goe_program.dmft", "goe_relaxation", {"temp": 0.3}),
        (wishart, "wishart_flow", {"temp": 0.2}),
        (ginibre, "ginibre_flow", {"z": 0.5}),
    ]
    for program, bundled, params in pairs:
        a = dmftc.load(program, **params).solve(steps=60, dt=0.05)
        b = dmftc.load(MODELS / f"{bundled}.dmft", **params).solve(steps=60, dt=0.05, method="dmft")
        np.testing.assert_allclose(a.sq_norm.values, b.sq_norm.values, rtol=1e-10)
        np.testing.assert_allclose(a.C_x.values, b.C.values, rtol=1e-10, atol=1e-14)


# ------------------------------------------------------------------------------ Monte Carlo


def test_monte_carlo_pass_agrees_with_the_exact_closure():
    # Jacobian responses through two matrices and frozen uses (8 replicas: the verdict's Student
    # t has 7 degrees of freedom)
    m = dmftc.load(MODELS / "random_features_gd.dmft")
    exact = m.solve(steps=20)
    mc = m.solve(steps=20, mode="monte-carlo", samples=16000, replicas=8, seed=3)
    consistent(exact, mc, ["train_loss", "test_loss"])


def test_monte_carlo_of_the_scs_network_is_close_to_its_gaussian_closure():
    m = dmftc.load(MODELS / "scs_network.dmft")
    exact = m.solve(steps=60)
    mc = m.solve(steps=60, mode="monte-carlo", samples=16000, replicas=8, seed=1)
    consistent(exact, mc, ["variance"])


def test_a_jump_in_a_memory_path_is_refused(tmp_path):
    path = tmp_path / "sign_labels.dmft"
    path.write_text(
        HEADER.replace("model program", "model sign_labels")
        + "const wstar[d] ~ normal(0, 1)\nweights w[d] ~ 0\nupdate:\n"
        "    y = sign(X . wstar)\n    w = w + lr * (X' . (y - tanh(X . w)))\nobserve q = mean(w^2)\n"
    )
    with pytest.raises(dmftc.DmftcError, match="responses through a jump"):
        dmftc.load(path).solve(steps=3, samples=200)


# ---------------------------------------------------------------------- against simulation


def test_random_feature_gd_against_simulation():
    # 24 runs at M = 400 against the exact DMFT: the compare limit on the simulation's error
    # (finite-size corrections O(1/M) are below it at this size)
    m = dmftc.load(MODELS / "random_features_gd.dmft")
    consistent(m.solve(steps=30), m.simulate(steps=30, dim=400, runs=24, seed=5), ["train_loss", "test_loss"])


def test_elliptic_network_against_simulation():
    # Monte Carlo with Jacobian responses of tanh through the memory term eta g^2 sum R tanh(x):
    # 8 replicas of 2000 samples against 8 runs at N = 1000 over 30 steps (time 3)
    m = dmftc.load(MODELS / "elliptic_network.dmft")
    dmft = m.solve(steps=30, samples=16000, replicas=8, seed=2)
    sim = m.simulate(steps=30, dim=1000, runs=8, seed=4)
    consistent(dmft, sim, ["variance"])
    # without the memory the variance would stay near 0.4 (docs/math/matrix_program.md §5 (2b))
    assert dmft.variance.values[30] > 1.0


def test_generated_code_is_deterministic():
    m = dmftc.load(MODELS / "random_features_gd.dmft")
    generate = m.compiled.model_class.generate
    assert generate(m.derive())[0].text == generate(m.derive())[0].text


def test_logistic_program_reproduces_the_gaussian_data_class(tmp_path):
    # logistic loss on soft labels y = tanh(2 h*) (smooth, so Jacobian responses hold on both
    # sides); both Monte Carlo, 8 replicas each: the compare verdict on every step
    glm = tmp_path / "soft_logistic.dmft"
    glm.write_text(
        "model soft_logistic\nparam alpha = 2.0\nparam lr = 0.5\nparam lam = 0.1\n"
        "data gaussian(ratio = alpha)\nteacher wstar ~ normal(0, 1)\nlabel y = tanh(2 * hstar)\n"
        "weights w ~ 0\npredict h = x . w\nloss log(1 + exp(-y * h))\npenalty lam * w^2 / 2\n"
        "update:\n    w = w - lr * grad(w)\n"
        "observe train_loss = train(loss)\nobserve overlap = mean(w * wstar)\nobserve sq_norm = mean(w^2)\n"
    )
    program = tmp_path / "soft_logistic_program.dmft"
    program.write_text(
        "model soft_logistic_program\nparam alpha = 2.0\nparam lr = 0.5\nparam lam = 0.1\n"
        "space d\nspace n = alpha * d\nmatrix X[n, d] ~ gaussian()\nconst wstar[d] ~ normal(0, 1)\n"
        "weights w[d] ~ 0\nupdate:\n    h = X . w\n    y = tanh(2 * (X . wstar))\n"
        "    w = w - lr * (X' . (-y * sigmoid(-y * h)) + lam * w)\n"
        "observe train_loss = mean(log(1 + exp(-y * h)))\nobserve overlap = mean(w * wstar)\n"
        "observe sq_norm = mean(w^2)\n"
    )
    a = dmftc.load(glm).solve(steps=15, samples=16000, replicas=8, seed=1)
    b = dmftc.load(program).solve(steps=15, samples=16000, replicas=8, seed=2)
    assert b.attrs["mode"] == "monte-carlo"
    consistent(a, b, ["train_loss", "overlap", "sq_norm"])


# ------------------------------------------------------------------ site classes (power laws)


def population_loss(t, a, K, lr):
    """The test loss of GD on the population (phi -> infinity) for models/powerlaw_gd.dmft:
    (1/2) E_u[lam (1 - lr lam)^(2t)], lam = (1 + (K - 1) u)^(-a), by adaptive quadrature."""
    lam = lambda u: (1 + (K - 1) * u) ** (-a)  # noqa: E731
    breaks = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
    return 0.5 * quad(lambda u: lam(u) * (1 - lr * lam(u)) ** (2 * t), 0, 1, points=breaks, limit=400)[0]


def test_site_classes_agree_with_the_monte_carlo_pass():
    # the exact closure over quadrature classes of u (docs/math/matrix_program.md §4.3) against
    # the Monte-Carlo pass of the same file, which samples u: 8 replicas of 4000 samples
    m = dmftc.load(MODELS / "powerlaw_gd.dmft", K=30, a=1.5)
    exact = m.solve(steps=20)
    assert exact.attrs["mode"] == "exact"
    mc = m.solve(steps=20, mode="monte-carlo", samples=32000, replicas=8, seed=4)
    consistent(exact, mc, ["train_loss", "test_loss"])


def test_site_classes_are_converged_in_the_number_of_classes(monkeypatch):
    # 144 classes (the default) against 220 (10 nodes on 10 levels): the quadrature error of the
    # closure, which must stay below 1e-5 relative over 50 steps at K = 1000 (measured on the
    # population integral: 2e-7)
    from dmftc.classes.matrix_program import solve

    m = dmftc.load(MODELS / "powerlaw_gd.dmft")
    default = m.solve(steps=50).test_loss.values
    monkeypatch.setattr(solve, "CLASS_LEVELS", 10)
    monkeypatch.setattr(solve, "CLASS_NODES", 10)
    finer = m.solve(steps=50).test_loss.values
    np.testing.assert_allclose(default, finer, rtol=1e-5)


def test_power_law_gd_approaches_the_population_curve_and_its_exponent():
    # with many samples per dimension the DMFT tends to population GD, whose test loss decays
    # like t^(-(a - 1)/a) for 1 << t << K^a / lr. At phi = 64 the measured gap is 0.03 % (the
    # finite-sample correction is O(1/phi)); allowed: 1 %. The local exponent over t in
    # [10, 100] (measured -0.4993) is that of the population curve (-0.4994 at K = 1000) within
    # 0.005, and the asymptotic -(a - 1)/a = -0.5 within 0.01.
    a, K, lr = 2.0, 1000, 1.0
    ds = dmftc.load(MODELS / "powerlaw_gd.dmft", phi=64, a=a, K=K, lr=lr).solve(steps=100)
    t = np.arange(10, 101)
    population = np.array([population_loss(s, a, K, lr) for s in t])
    np.testing.assert_allclose(ds.test_loss.values[10:], population, rtol=0.01)
    slope = np.polyfit(np.log(t), np.log(ds.test_loss.values[10:]), 1)[0]
    assert abs(slope - np.polyfit(np.log(t), np.log(population), 1)[0]) < 0.005
    assert abs(slope + (a - 1) / a) < 0.01


@pytest.mark.slow
def test_power_law_gd_against_simulation_over_two_decades():
    # models/powerlaw_gd.dmft (a = 2, phi = 4) with the cutoff K = 100: the exact class closure
    # against 20 runs at d = 2000 over 300 steps (the compare limit on the simulation's error),
    # and the simulation's exponent fitted on t in [10, 300] within 0.03 of the DMFT's (the fit's
    # spread over runs: about 0.01). The loss at time t comes from the ~d t^(1/a) / K sites with
    # lam ~ 1/t; at K = 1000 and d = 2000 they are few and the simulation lies 4 % above the DMFT
    # at t = 300 (examples/powerlaw_gd.md), a finite-size effect that K = 100 makes 0.5 %.
    m = dmftc.load(MODELS / "powerlaw_gd.dmft", K=100)
    dmft = m.solve(steps=300)
    sim = m.simulate(steps=300, dim=2000, runs=20, seed=3)
    consistent(dmft, sim, ["train_loss", "test_loss"])
    t = np.arange(10, 301)
    slopes = [np.polyfit(np.log(t), np.log(ds.test_loss.values[10:]), 1)[0] for ds in (dmft, sim)]
    assert abs(slopes[0] - slopes[1]) < 0.03, slopes


@pytest.mark.slow
@pytest.mark.parametrize("g", [0.5, 1.5])
def test_scs_network_against_simulation_at_n_2000(g):
    # C(t, t) and C(t, t - 10) of the Gaussian closure against 6 batches of 5 runs at N = 2000
    # over 200 steps (t = 20). Chaotic runs (g = 1.5) fluctuate several times more than
    # N^(-1/2) suggests (docs/math/matrix_program.md §6.4), so the error is the spread of the
    # batch means (5 degrees of freedom): every compared entry within 6.9 of its standard errors
    # (Student's t, two-sided 1e-3: a false alarm ~0.1 % an entry, the entries correlated), plus
    # 2e-3 for the O(1/N) finite-size bias.
    m = dmftc.load(MODELS / "scs_network.dmft", g=g)
    C = m.solve(steps=200).C_x.values
    batches = np.array([m.simulate(steps=200, dim=2000, runs=5, seed=10 + b).C_x.values for b in range(6)])
    mean, sem = batches.mean(axis=0), batches.std(axis=0, ddof=1) / np.sqrt(len(batches))
    t = np.arange(10, 201, 10)
    for lag in (0, 10):
        deviation = np.abs(C[t, t - lag] - mean[t, t - lag])
        assert np.all(deviation <= 6.9 * sem[t, t - lag] + 2e-3), (lag, deviation, sem[t, t - lag])
    if g > 1:  # chaos: C(t, t) approaches its stationary value (0.7397 at t in [30, 40], §5 (2))
        assert C[200, 200] > 0.7
    else:  # activity decays to zero
        assert C[200, 200] < 1e-8


def test_nonhermitian_drive_against_simulation():
    # the exact closure of dx/dt = -F S x (two matrices) against 16 runs at M = 800, dt = 0.05 over
    # 40 steps (t = 2), through the loss minimum near t = 0.75: the compare limit on the
    # simulation's error (finite-size corrections O(1/M) lie below it)
    m = dmftc.load(MODELS / "nonhermitian_drive.dmft")
    dmft = m.solve(steps=40, dt=0.05)
    sim = m.simulate(steps=40, dt=0.05, dim=800, runs=16, seed=2)
    consistent(dmft, sim, ["loss"])
    assert sim.loss.values[15] < sim.loss.values[0] and sim.loss.values[40] > sim.loss.values[15]


def test_random_features_on_power_law_data_against_simulation():
    # models/rf_scaling_gd.dmft with K = 50 mode levels (20 coordinates a level at M = 1000, so
    # that finite-size effects lie below the simulation's error, examples/powerlaw_gd.md): the
    # class closure against 16 runs over 30 steps, at the compare limit; and the model-size
    # bottleneck: fewer features learn less
    m = dmftc.load(MODELS / "rf_scaling_gd.dmft", K=50, nu=0.25)
    dmft = m.solve(steps=30)
    assert dmft.attrs["mode"] == "exact"
    consistent(dmft, m.simulate(steps=30, dim=1000, runs=16, seed=6), ["train_loss", "test_loss"])
    narrow = dmftc.load(MODELS / "rf_scaling_gd.dmft", K=50, nu=0.05).solve(steps=30)
    assert narrow.test_loss.values[30] > 1.2 * dmft.test_loss.values[30]


def test_names_of_the_generated_plumbing_can_be_model_names(tmp_path):
    # the class closure's arrays and loop variables (U, q, c0, Qq, ...) and the per-site
    # functions' arguments (PR, Znew, jac, ...) as parameter names: the same numbers
    text = (MODELS / "powerlaw_gd.dmft").read_text()
    renamed = {"lr": "jac", "phi": "U", "a": "q", "K": "c0q"}
    for old, new in renamed.items():
        text = re.sub(rf"\b{old}\b", new, text)
    path = tmp_path / "renamed.dmft"
    path.write_text(text)
    got = dmftc.load(path).solve(steps=5).test_loss.values
    np.testing.assert_array_equal(got, dmftc.load(MODELS / "powerlaw_gd.dmft").solve(steps=5).test_loss.values)


# ------------------------------------------------------------------ one-pass data (fresh matrices)


def volterra_loss(steps, bsz, lr, a, K):
    """The test loss of one-pass SGD on models/online_sgd_powerlaw.dmft from the per-mode
    recursion m <- (1 - lr lam)^2 m + (lr^2 / bsz) lam E[lam m] (the gradient noise of a batch of
    bsz d fresh Gaussian samples), over 484 Gauss-Legendre classes of u: an oracle written apart
    from the DMFT."""
    from dmftc.classes.matrix_program.solve import class_quadrature

    u, weights = class_quadrature(10, 22)
    lam = (1 + (K - 1) * u) ** (-a)
    m, out = np.ones_like(u), []
    for _ in range(steps + 1):
        energy = weights @ (lam * m)
        out.append(energy / 2)
        m = (1 - lr * lam) ** 2 * m + lr**2 / bsz * lam * energy
    return np.array(out)


@pytest.mark.parametrize("bsz, lr", [(0.5, 0.5), (0.1, 0.2)])
def test_one_pass_sgd_is_the_volterra_recursion(bsz, lr):
    # a fresh matrix couples its uses within a step only; the class closure must give the
    # recursion to its quadrature error (1e-6 measured: 2e-7 at bsz = 0.5)
    m = dmftc.load(MODELS / "online_sgd_powerlaw.dmft", bsz=bsz, lr=lr)
    ds = m.solve(steps=100)
    np.testing.assert_allclose(ds.test_loss.values, volterra_loss(100, bsz, lr, 2.0, 1000), rtol=1e-5)


def test_one_pass_sgd_against_simulation_and_monte_carlo(tmp_path):
    # K = 50 levels (20 coordinates a level at d = 1000): the exact closure against 16 runs that
    # draw a new batch every step, and against the Monte-Carlo pass (8 replicas), at the compare
    # limit. On a fresh batch the batch loss is the test loss (to rounding); a batch reused every
    # step (the same file without fresh) is fitted: its batch loss falls far below the test loss
    m = dmftc.load(MODELS / "online_sgd_powerlaw.dmft", K=50, bsz=0.25)
    exact = m.solve(steps=40)
    consistent(exact, m.simulate(steps=40, dim=1000, runs=16, seed=8), ["test_loss", "batch_loss"])
    consistent(exact, m.solve(steps=40, mode="monte-carlo", samples=16000, replicas=8, seed=2), ["test_loss"])
    np.testing.assert_allclose(exact.batch_loss.values, exact.test_loss.values, rtol=1e-10)
    path = tmp_path / "reused.dmft"
    path.write_text((MODELS / "online_sgd_powerlaw.dmft").read_text().replace("gaussian(fresh = 1)", "gaussian()"))
    reused = dmftc.load(path, K=50, bsz=0.25).solve(steps=40)
    assert reused.batch_loss.values[40] < 0.5 * reused.test_loss.values[40]


def test_fresh_is_zero_or_one(tmp_path):
    path = tmp_path / "fresh.dmft"
    path.write_text((MODELS / "online_sgd_powerlaw.dmft").read_text().replace("fresh = 1", "fresh = 2"))
    with pytest.raises(dmftc.DmftcError, match="'fresh' is 1"):
        dmftc.load(path)
