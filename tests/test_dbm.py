"""Mini-batch SGD as a diffusion (dmftc derive --sde) and the Dyson Brownian motion of a weight
matrix trained by SGD on a linear teacher (docs/math/matrix_sgd.md §2-§4)."""

import math

import numpy as np
import pytest
import sympy as sp
from typer.testing import CliRunner

import dmftc
from dmftc.classes.matrix_sgd.simulate import unfolded_spacing_s2
from dmftc.classes.matrix_sgd.solve import SURMISE_S2
from dmftc.cli import app
from dmftc.errors import DerivationError, ModelError, SolverError
from dmftc.symbolic.sde import COVARIANCE, SAMPLES, TEMPERATURE

from .conftest import ROOT

MODELS = ROOT / "models"
DBM = MODELS / "dbm_teacher.dmft"
runner = CliRunner()


def _sgd_ridge_with_batch_size(tmp_path):
    path = tmp_path / "sgd_size.dmft"
    path.write_text(
        (MODELS / "sgd_ridge.dmft")
        .read_text()
        .replace("batch fraction b", "batch size B")
        .replace("param b     = 0.5", "param B     = 16")
    )
    return dmftc.load(path)


def test_sde_of_sgd_depends_on_lr_over_batch_size(tmp_path):
    m = _sgd_ridge_with_batch_size(tmp_path)
    d = m.derive(sde=True)
    lr, B, sigma = (m.model.param(name).symbol for name in ("lr", "B", "sigma"))
    w = m.model.weights[0].symbol
    assert sp.simplify(d.velocity[w] + sp.Symbol("∇w", real=True)) == 0  # drift: minus the gradient
    assert sp.simplify(d.diffusion[0, 0] - lr * SAMPLES**2 * COVARIANCE / B) == 0
    assert sp.simplify(d.diffusion_at_temperature[0, 0] - TEMPERATURE * SAMPLES**2 * COVARIANCE) == 0
    assert sp.simplify(d.teacher_noise - sigma**2) == 0
    text = d.render("text")
    assert "B is gone" in text and "no DMFT limit" in text
    with pytest.raises(SolverError, match="no DMFT limit at fixed lr"):
        m.solve(steps=2)


def test_sde_of_the_matrix_family_gives_the_stationary_variance():
    # docs/math/matrix_sgd.md §4: v = lr sigma² / (2B), from D = lr sigma² / B per entry and the unit restoring rate
    m = dmftc.load(DBM)
    d = m.derive()
    lr, B, sigma = (m.model.param(name).symbol for name in ("lr", "B", "sigma"))
    assert sp.simplify(d.stationary_variance - lr * sigma**2 / (2 * B)) == 0
    result = runner.invoke(app, ["derive", str(DBM), "--sde", "--format", "latex"])
    assert result.exit_code == 0 and r"\frac{\mathit{lr}\,\sigma^{2}}{2\,B}" in result.output


def test_sde_needs_a_first_order_update(tmp_path):
    text = (MODELS / "ridge_heavy_ball.dmft").read_text()
    path = tmp_path / "hb.dmft"
    path.write_text(text.replace("update:", "batch size 8\nupdate:", 1))
    with pytest.raises(DerivationError, match="no first-order small-step limit"):
        dmftc.load(path).derive(sde=True)
    with pytest.raises(DerivationError, match="needs a mini-batch of fixed size"):
        dmftc.load(MODELS / "ridge_gd.dmft").derive(sde=True)


def test_dbm_prediction_is_the_closed_form():
    # stationary: mean 1 + N lr sigma²/(2B), variance N lr sigma²/B (docs/math/matrix_sgd.md §4), surmise 4/π; after
    # 40 relaxation times e^{-80} leaves nothing of the start
    N, lr, B, sigma = 60, 0.01, 8, 1.0
    ds = dmftc.load(DBM).solve(steps=4000)
    assert abs(ds.eigenvalue_mean.values[-1] - (1 + N * lr * sigma**2 / (2 * B))) < 1e-12
    assert abs(ds.eigenvalue_variance.values[-1] - N * lr * sigma**2 / B) < 1e-12
    assert abs(ds.distance.values[-1] - lr * sigma**2 / (2 * B)) < 1e-15
    assert ds.spacing_s2.values[-1] == SURMISE_S2 and ds.attrs["kind"] == "theory"


def _stationary(m, lr, runs, length=30):
    """Time averages per run over the second half of ``length``/lr steps (the start relaxes at
    rate 2 lr): arrays (runs,) of the eigenvalue mean, the eigenvalue variance, <s²> and N v
    (v = mean((W - W*)²), the per-entry variance)."""
    steps = round(length / lr)
    values = []
    for seed in range(runs):
        sim = m.simulate(runs=1, steps=steps, seed=seed)
        window = slice(steps // 2, None)
        values.append(
            [
                sim[name].values[window].mean()
                for name in ("eigenvalue_mean", "eigenvalue_variance", "spacing_s2", "distance")
            ]
        )
    out = np.array(values).T
    out[3] *= m.params["N"]
    return out


def _refined(N, lr, B, sigma):
    """Next order in lr of SGD near W* = I (the multiplicative batch noise): the per-entry
    variance v = lr σ² / (B (2 - lr - lr (N + 1) / B)), and the eigenvalue variance 2 N v plus
    the spread (N v)² of δᵀδ."""
    v = lr * sigma**2 / (B * (2 - lr - lr * (N + 1) / B))
    return N * v, 2 * N * v + (N * v) ** 2


def _sem(a):
    return a.std(ddof=1) / math.sqrt(a.size)


def test_simulation_follows_the_dbm_prediction():
    # N = 60, lr = 0.02, B = 16 (lr/B of the docs/math/matrix_sgd.md §4 table), 4 runs of 1500 steps. N v and the
    # eigenvalue variance average over all N² entries and fluctuate little: against the
    # next-order formula, 4 standard errors of the run averages plus 2% for the neglected terms;
    # against the leading order (the DBM prediction of `solve`), the next-order shift (+4.3% of N v,
    # +6% of the variance here) plus the same allowance.
    N, lr, B = 60, 0.02, 16
    m = dmftc.load(DBM, lr=lr, B=B)
    mean, variance, s2, nv = _stationary(m, lr, runs=4)
    ref_nv, ref_variance = _refined(N, lr, B, 1.0)
    assert abs(nv.mean() - ref_nv) < 4 * _sem(nv) + 0.02 * ref_nv
    assert abs(variance.mean() - ref_variance) < 4 * _sem(variance) + 0.02 * ref_variance
    lead = m.solve(steps=2000)
    lead_nv = lead.eigenvalue_mean.values[-1] - 1
    assert abs(nv.mean() / lead_nv - 1) < 0.065 + 4 * _sem(nv) / lead_nv
    assert abs(variance.mean() / lead.eigenvalue_variance.values[-1] - 1) < 0.08 + 4 * _sem(variance) / ref_variance
    # the eigenvalue mean is 1 + 2 mean(diag δ) + N v: the diagonal mean has a stationary spread
    # 2 sqrt(v/N) and relaxes at rate lr, so a window of W steps averages it down by sqrt(2/(lr W))
    # per run (0.0012 over 4 runs of 750 steps): 4 of those plus the next-order shift
    spread = 2 * math.sqrt(lead_nv / N**2) * math.sqrt(2 / (lr * 750)) / math.sqrt(4)
    assert abs(mean.mean() - (1 + lead_nv)) < 4 * spread + 0.065 * lead_nv
    # spacings: the Wigner surmise as measured on GOE matrices of the same size with the same
    # unfolding (1.2853 ± 0.0013 from 3000 samples: 1% above 4/π at N = 60); independent levels give ~2
    assert abs(s2.mean() - 1.2853) < 4 * _sem(s2) + 0.01 and abs(s2.mean() - SURMISE_S2) < 0.03


def test_statistics_collapse_at_fixed_lr_over_batch_size():
    # the linear scaling rule: (lr, B) = (0.01, 8) and (0.02, 16) share lr/B = 1/800; their
    # stationary N v, eigenvalue variance and <s²> agree within 4 combined standard errors plus
    # the O(lr) difference of the next-order formula (0.5% of N v); a four times larger B at
    # lr = 0.01 makes the spectrum four times narrower (the next-order terms shift the ratio by 4%).
    stats = {
        (lr, B): _stationary(dmftc.load(DBM, lr=lr, B=B), lr, runs=3, length=20) for lr, B in ((0.01, 8), (0.02, 16))
    }
    a, b = stats[(0.01, 8)], stats[(0.02, 16)]
    for row, name in ((1, "variance"), (2, "spacings"), (3, "N v")):
        sem = math.sqrt(_sem(a[row]) ** 2 + _sem(b[row]) ** 2)
        assert abs(a[row].mean() - b[row].mean()) < 4 * sem + 0.005 * a[row].mean(), name
    narrow = _stationary(dmftc.load(DBM, lr=0.01, B=32), 0.01, runs=1, length=20)
    assert 3.6 < a[1].mean() / narrow[1].mean() < 4.4


def test_unfolded_spacings_tell_goe_from_independent_levels():
    rng = np.random.default_rng(1)
    goe = np.mean([unfolded_spacing_s2(np.linalg.eigvalsh(g + g.T)) for g in rng.standard_normal((200, 60, 60))])
    independent = np.mean([unfolded_spacing_s2(rng.standard_normal(60)) for _ in range(200)])
    # 200 samples: standard errors 0.006 (GOE) and 0.03 (independent levels, Poisson-like: ~2)
    assert abs(goe - 1.2853) < 0.03 and independent > 1.8


@pytest.mark.slow
def test_collapse_at_three_learning_rates():
    # the docs/math/matrix_sgd.md §4 table: (lr, B) = (0.005, 4), (0.01, 8), (0.02, 16), 6 runs each; the next-order
    # formula separates the three by at most 0.9% of N v: 1% plus 4 standard errors
    stats = [_stationary(dmftc.load(DBM, lr=lr, B=B), lr, runs=6) for lr, B in ((0.005, 4), (0.01, 8), (0.02, 16))]
    for row in (1, 2, 3):
        values = [s[row].mean() for s in stats]
        spread = max(values) - min(values)
        assert spread < 4 * math.sqrt(2) * max(_sem(s[row]) for s in stats) + 0.01 * values[0], (row, values)


def test_matrix_family_errors(tmp_path):
    path = tmp_path / "bad.dmft"
    path.write_text(DBM.read_text().replace("observe distance = mean((W - Wstar)^2)", "observe e = test(loss)"))
    with pytest.raises(ModelError, match="observes mean"):
        dmftc.load(path)
    path.write_text(DBM.read_text().replace("teacher Wstar ~ 1", "teacher Wstar ~ 1 + 0.5 * rademacher()"))
    m = dmftc.load(path)
    with pytest.raises(SolverError, match="teacher is not c I"):
        m.solve(steps=3)
    sim = m.simulate(runs=1, steps=3)  # two distinct teacher singular values: only simulated
    assert sim.eigenvalues.shape == (4, 60)
