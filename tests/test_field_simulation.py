"""DMFT of the gaussian_field class against finite-N simulations of the same model.

Agreement is judged in standard errors of the simulation mean over runs, plus an allowance for
the finite-N bias (the corrections to DMFT are O(1/N), with O(1/sqrt(N)) fluctuations per run).
"""

import numpy as np
import pytest

import dmftc
from dmftc.classes.gaussian_field.simulate import DilutedPower, Landscape, simulate_gaussian_field
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


def _pair_at_overlap(rng, N, q):
    """Two points of the sphere |x|^2 = N with x.y/N = q."""
    x = rng.standard_normal(N)
    x *= np.sqrt(N) / np.linalg.norm(x)
    w = rng.standard_normal(N)
    w -= (w @ x) / N * x
    return x, q * x + np.sqrt(1 - q**2) * np.sqrt(N) * w / np.linalg.norm(w)


@pytest.mark.parametrize("dense_quadratic_max_dim", [100, 0], ids=["goe", "diluted-quadratic"])
def test_couplings_have_the_covariance_of_xi(dense_quadratic_max_dim):
    # E[H(x) H(y)] = N xi(x.y/N) for xi = 0.3 + 0.5 q + 0.25 q^2 + 0.2 q^3 + 0.15 q^4 + 0.1 q^5,
    # over 4000 draws at N = 12 with connectivity K = 2: the identity is exact at every N and K
    # (docs/math/gaussian_field.md §4.1), so the smallest system tests it hardest. The sample
    # means are compared with 4.5 of their own standard errors (a false alarm ~1e-5 under a Gaussian
    # error model); the standard errors are < 4% of N xi, so a factor k or 1/k! in the scale of
    # a power, a term dropped, or indices shared between the slots of a term (which gives
    # mean((x y)^k) for q^k) are all detected.
    N, draws = 12, 4000
    rng = np.random.default_rng(1)
    x, y = _pair_at_overlap(rng, N, 0.6)
    coefficients, powers = np.array([0.3, 0.5, 0.25, 0.2, 0.15, 0.1]), np.arange(6.0)
    pairs = np.empty((draws, 2))
    for d in range(draws):
        landscape = Landscape(rng, N, coefficients, powers, 2, dense_quadratic_max_dim)
        pairs[d] = [landscape.energy_and_gradient(v)[0] for v in (x, y)]
    for product, q in ((pairs[:, 0] * pairs[:, 1], 0.6), (pairs[:, 0] ** 2, 1.0)):
        expected = N * np.sum(coefficients * q**powers)
        sem = product.std(ddof=1) / np.sqrt(draws)
        assert sem < 0.04 * expected
        assert abs(product.mean() - expected) < 4.5 * sem, (q, product.mean(), expected, sem)


@pytest.mark.parametrize("k", [2, 3, 4, 5])
def test_diluted_power_is_the_documented_sum(k):
    # a reference evaluation of H_k(x) = sqrt(c N / M) Σ_(b,j) J_bj Π_s (O_s x)[(j + shift_bs) mod N]
    # with the rotations O_s = DCT diag(flips_s) P_s written out as matrices, which are orthogonal;
    # the kernel is generated for each k (rounding only: 1e-12)
    from scipy.fft import dct

    N, K, c = 9, 4, 0.7
    power = DilutedPower(np.random.default_rng(3), N, c, k, K)
    DCT = dct(np.eye(N), norm="ortho", axis=0)
    O = [DCT @ np.diag(power.flips[s]) @ np.eye(N)[power.permutations[s]] for s in range(k)]
    for rotation in O:
        assert np.allclose(rotation @ rotation.T, np.eye(N), atol=1e-12)
    x = np.random.default_rng(4).standard_normal(N)
    U = [rotation @ x for rotation in O]
    reference = sum(
        power.signs[b, j] * np.prod([U[s][(j + power.shifts[b, s]) % N] for s in range(k)])
        for b in range(K)
        for j in range(N)
    )
    gradient = np.zeros(N)
    assert abs(power.energy_and_gradient(x, gradient) - np.sqrt(c / K) * reference) < 1e-12 * N
    assert set(np.unique(power.signs)) == {-1.0, 1.0} and power.shifts.shape == (K, k)


@pytest.mark.parametrize("dense_quadratic_max_dim", [100, 0], ids=["goe", "diluted-quadratic"])
def test_gradient_is_the_derivative_of_the_energy(dense_quadratic_max_dim):
    # central differences of H along a random direction: O(h^2) = 1e-8 relative; K = 3 at N = 10
    # makes repeated indices in a term frequent
    rng = np.random.default_rng(2)
    N = 10
    coefficients, powers = np.array([0.3, 0.5, 0.25, 0.2, 0.1, 0.05]), np.arange(6.0)
    landscape = Landscape(rng, N, coefficients, powers, 3, dense_quadratic_max_dim)
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


def test_pspin4_gd_agrees_with_simulation(tmp_path):
    # powers above 3 are simulated (diluted couplings): pure 4-spin GD, N = 500, 8 runs, 20 steps
    # (under a second); standard errors 0.006-0.012, finite-N and finite-connectivity bias within
    # 2e-3 (measured at N = 1000 and 2000, docs/math/gaussian_field.md §4.1), allowance 0.01 as for
    # the 3-spin above
    path = tmp_path / "p4.dmft"
    path.write_text((MODELS / "pspin3_gd.dmft").read_text().replace("param p  = 3", "param p  = 4"))
    m = dmftc.load(path)
    _agree(m.solve(steps=20), m.simulate(dim=500, runs=8, steps=20), "energy", bias=0.01)


def test_simulator_refuses_non_integer_powers(tmp_path):
    path = tmp_path / "p25.dmft"
    path.write_text((MODELS / "pspin3_gd.dmft").read_text().replace("param p  = 3", "param p  = 2.5"))
    with pytest.raises(SolverError, match="integer powers"):
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
def test_dmft_agrees_with_simulation_at_n_1000(model, optimizer, tmp_path):
    # N = 1000, 16 runs, 60 steps (the dense couplings of the former simulator stopped at N = 250):
    # standard errors ~0.003-0.005; allowance 3e-3 for the finite-N and finite-connectivity bias
    # (measured for pure 3-spin GD within 2e-3, docs/math/gaussian_field.md §4.1). Pure 3-spin
    # from a random start, with the momentum written into its update; the spiked models (their own
    # optimizer) from an overlap 0.3 so that the signal term matters.
    source = (MODELS / f"{model}.dmft").read_text()
    if model == "pspin3_gd" and optimizer != "gd":
        source = _with_momentum(source, optimizer)
    path = tmp_path / f"{model}_{optimizer}.dmft"
    path.write_text(source)
    m = dmftc.load(path, lr=0.05)
    overlap = 0.3 if m.model.spec.signal else 0.0
    theory = solve_gaussian_field(m.derive(), m.params, steps=60, initial_overlap=overlap)
    simulation = simulate_gaussian_field(m.derive(), m.params, dim=1000, runs=16, steps=60, initial_overlap=overlap)
    names = [name for name in theory.data_vars if f"{name}_sem" in simulation]
    assert "energy" in names
    for name in names:
        _agree(theory, simulation, name, bias=3e-3)


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
