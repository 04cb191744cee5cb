"""DMFT of the gaussian_field class against finite-N simulations of the same model.

Agreement is judged in standard errors of the simulation mean over runs, plus an allowance for
the finite-N bias (the corrections to DMFT are O(1/N), with O(1/sqrt(N)) fluctuations per run).
"""

import numpy as np
import pytest

import dmftc
from dmftc.classes.gaussian_field.simulate import Landscape, simulate_gaussian_field
from dmftc.classes.gaussian_field.solve import solve_gaussian_field
from dmftc.errors import SolverError

from .conftest import ROOT

MODELS = ROOT / "models"


def _agree(theory, simulation, name, bias):
    """Every step within 4 standard errors plus ``bias`` (a false alarm at 4 s.e. has probability
    ~6e-5 per step under a Gaussian error model)."""
    deviation = np.abs(theory[name].values - simulation[name].values)
    allowed = 4 * simulation[f"{name}_sem"].values + bias
    assert np.all(deviation <= allowed), (name, (deviation - allowed).max())


def test_couplings_have_the_covariance_of_xi():
    # E[H(x) H(x')] = N xi(x.x'/N) for xi = 0.3 + q/2 + q^2/4 + q^3/5, over 4000 draws at N = 12:
    # the sample covariance has a standard error ~2% of N xi, so 10% is a loose but sharp bound
    # (dropping a term, or the 1/k! of a symmetrisation, changes it by more than 30%).
    N, draws = 12, 4000
    rng = np.random.default_rng(1)
    x = rng.standard_normal(N)
    x *= np.sqrt(N) / np.linalg.norm(x)
    w = rng.standard_normal(N)
    w -= (w @ x) / N * x
    y = 0.6 * x + 0.8 * np.sqrt(N) * w / np.linalg.norm(w)
    q = x @ y / N
    coefficients, powers = np.array([0.3, 0.5, 0.25, 0.2]), np.array([0.0, 1.0, 2.0, 3.0])
    pairs = np.empty((draws, 2))
    for d in range(draws):
        landscape = Landscape(rng, N, coefficients, powers)
        pairs[d] = [landscape.energy_and_gradient(v)[0] for v in (x, y)]
    expected = N * np.sum(coefficients * q**powers)
    assert abs(np.mean(pairs[:, 0] * pairs[:, 1]) - expected) < 0.1 * expected
    assert abs(np.mean(pairs[:, 0] ** 2) - N * coefficients.sum()) < 0.1 * N * coefficients.sum()


def test_gradient_is_the_derivative_of_the_energy():
    # central differences of H along a random direction: O(h^2) = 1e-8 relative
    rng = np.random.default_rng(2)
    N = 10
    landscape = Landscape(rng, N, np.array([0.5, 0.25, 0.2]), np.array([1.0, 2.0, 3.0]))
    x, v, h = rng.standard_normal(N), rng.standard_normal(N), 1e-4
    numeric = (landscape.energy_and_gradient(x + h * v)[0] - landscape.energy_and_gradient(x - h * v)[0]) / (2 * h)
    assert abs(numeric - landscape.energy_and_gradient(x)[1] @ v) < 1e-6 * abs(numeric)


def test_pspin3_gd_agrees_with_simulation():
    # N = 120, 6 runs, 20 steps: the simulation's standard error is ~0.02; finite-N bias ~1/N.
    m = dmftc.load(MODELS / "pspin3_gd.dmft")
    _agree(m.solve(steps=20), m.simulate(dim=120, runs=6, steps=20), "energy", bias=0.01)


def test_spiked_heavy_ball_agrees_with_simulation():
    # From an overlap 0.5 with the signal, N = 100, 6 runs, 20 steps.
    m = dmftc.load(MODELS / "spiked_matrix_tensor_hb.dmft", lr=0.05)
    theory = solve_gaussian_field(m.derive(), m.params, steps=20, initial_overlap=0.5)
    simulation = simulate_gaussian_field(m.derive(), m.params, dim=100, runs=6, steps=20, initial_overlap=0.5)
    for name in ("energy", "overlap"):
        _agree(theory, simulation, name, bias=0.01)
    assert simulation.overlap.values[-1] > 0.55, "the signal term must act"


def test_simulation_of_a_model_without_exact_recursion(tmp_path):
    # a quartic penalty makes the update non-linear: no DMFT solve, but the simulator runs it
    path = tmp_path / "quartic.dmft"
    path.write_text(
        (MODELS / "pspin3_gd.dmft")
        .read_text()
        .replace("weights x ~ normal(0, 1) on sphere", "weights x ~ normal(0, 1)\npenalty x^4 / 4")
    )
    m = dmftc.load(path, lr=0.02)
    assert "not available (the exact recursion needs a linear process)" in m.derive().render()
    with pytest.raises(SolverError, match="not affine"):
        m.solve(steps=5)
    ds = m.simulate(dim=40, runs=2, steps=5)
    assert np.all(np.isfinite(ds.energy.values)) and "energy_sem" in ds


def test_simulator_refuses_high_powers(tmp_path):
    path = tmp_path / "p4.dmft"
    path.write_text((MODELS / "pspin3_gd.dmft").read_text().replace("param p  = 3", "param p  = 4"))
    with pytest.raises(SolverError, match="powers 0..3"):
        dmftc.load(path).simulate(dim=10, runs=1, steps=2)


SLOW_CASES = [
    ("pspin3_gd", "gd"),
    ("pspin3_gd", "heavy_ball"),
    ("pspin3_gd", "nesterov"),
    ("spiked_matrix_tensor_gd", "gd"),
    ("spiked_matrix_tensor_hb", "heavy_ball"),
    ("spiked_matrix_tensor_nesterov", "nesterov"),
]


@pytest.mark.slow
@pytest.mark.parametrize("model, optimizer", SLOW_CASES)
def test_dmft_agrees_with_simulation_at_n_250(model, optimizer, tmp_path):
    # N = 250, 16 runs, 60 steps (docs/math/gaussian_field.md checked N = 160): standard errors ~0.005-0.01,
    # finite-N bias allowance 1/N. Pure 3-spin from a random start, with the momentum written
    # into its update; the spiked models (their own optimizer) from an overlap 0.3 so that the
    # signal term matters.
    source = (MODELS / f"{model}.dmft").read_text()
    if model == "pspin3_gd" and optimizer != "gd":
        source = _with_momentum(source, optimizer)
    path = tmp_path / f"{model}_{optimizer}.dmft"
    path.write_text(source)
    m = dmftc.load(path, lr=0.05)
    overlap = 0.3 if m.model.spec.signal else 0.0
    theory = solve_gaussian_field(m.derive(), m.params, steps=60, initial_overlap=overlap)
    simulation = simulate_gaussian_field(m.derive(), m.params, dim=250, runs=16, steps=60, initial_overlap=overlap)
    names = [name for name in theory.data_vars if f"{name}_sem" in simulation]
    assert "energy" in names
    for name in names:
        _agree(theory, simulation, name, bias=1 / 250)


def _with_momentum(source: str, optimizer: str) -> str:
    """pspin3_gd with heavy ball or Nesterov (beta = 0.5) in place of gradient descent."""
    update = "    x = x - lr * grad(x)"
    state, rule = {
        "heavy_ball": ("state v ~ 0", "    v = beta * v - lr * grad(x)\n    x = x + v"),
        "nesterov": (
            "state x_prev = x",
            "    look = x + beta * (x - x_prev)\n    x_prev = x\n    x = look - lr * grad(x at look)",
        ),
    }[optimizer]
    return (
        source.replace("param lr = 0.05", "param lr = 0.05\nparam beta = 0.5")
        .replace(update, rule)
        .replace("weights x ~ normal(0, 1) on sphere", "weights x ~ normal(0, 1) on sphere\n" + state)
    )
