"""The exact discrete recursion of the gaussian_field class (docs/math/gaussian_field.md §3) against oracles."""

import numpy as np
import pytest
from scipy import integrate

import dmftc
from dmftc.classes.gaussian_field.solve import solve_gaussian_field
from dmftc.errors import SolverError

from .conftest import ROOT

MODELS = ROOT / "models"

# A GOE landscape (xi = q^2/2: the Hessian of H is a GOE matrix with the semicircle law on
# [-2, 2]) with a ridge penalty and Langevin noise, off the sphere: x(t+1) = g(M) x(t) + noise
# with g(a) = 1 - lr (lam + a), so every curve is a semicircle integral.
GOE_RIDGE = """\
# GOE landscape with a ridge penalty, gradient descent with Langevin noise (test model).
model goe_ridge
param lr   = 0.1
param lam  = 3.0
param temp = 0.0
landscape gaussian_field(xi = q^2 / 2)
weights x ~ normal(0, 1)
penalty lam * x^2 / 2
update:
    x = x - lr * grad(x) + sqrt(2 * lr * temp) * gauss()
observe energy  = energy()
observe sq_norm = mean(x^2)
"""


def _semicircle(f) -> float:
    value, _ = integrate.quad(
        lambda a: f(a) / (2 * np.pi), -2, 2, weight="alg", wvar=(0.5, 0.5), epsabs=1e-14, epsrel=1e-13
    )
    return value


def _goe_curves(lr, lam, temp, T):
    """E[x_k^2], the energy (1/2) E[x_k M x_k] and R(k, j) of the GOE ridge model."""

    def second(a, k):
        g2 = (1 - lr * (lam + a)) ** 2
        return g2**k + 2 * lr * temp * (1 - g2**k) / (1 - g2)

    sq = np.array([_semicircle(lambda a: second(a, k)) for k in range(T + 1)])
    energy = np.array([_semicircle(lambda a: a * second(a, k) / 2) for k in range(T + 1)])
    response = np.array([_semicircle(lambda a: lr * (1 - lr * (lam + a)) ** n) for n in range(T)])
    return sq, energy, response


@pytest.fixture(scope="module")
def goe_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("field") / "goe_ridge.dmft"
    path.write_text(GOE_RIDGE)
    return path


@pytest.mark.parametrize("temp", [0.0, 0.2])
def test_goe_ridge_matches_the_semicircle(goe_model, temp):
    # No sampling: the recursion is exact up to rounding, the quadrature of the oracle is good to
    # ~1e-13, so 1e-9 is a tight bound. temp > 0 exercises the noise columns of the basis.
    T = 30
    ds = dmftc.load(goe_model, temp=temp).solve(steps=T)
    sq, energy, response = _goe_curves(0.1, 3.0, temp, T)
    np.testing.assert_allclose(ds.sq_norm.values, sq, rtol=1e-9)
    np.testing.assert_allclose(np.diag(ds.C.values), sq, rtol=1e-9)
    np.testing.assert_allclose(ds.energy.values, energy, rtol=1e-9, atol=1e-12)
    for k in (5, 17, 30):  # R(k, j) depends on k - j only
        np.testing.assert_allclose(ds.R.values[k, :k], response[:k][::-1], rtol=1e-9)


def test_divergence_is_a_solver_error_naming_the_step(goe_model):
    # lr = 1: |g| reaches 4, C(k,k) ~ 16^k passes the divergence threshold 1e50 near k = 42
    with pytest.raises(SolverError, match=r"diverges: values grow past 1e\+50 at step \d+") as info:
        dmftc.load(goe_model, lr=1.0).solve(steps=400)
    assert "learning rate" in info.value.hint


def test_pspin3_gd_reference_values():
    # docs/math/gaussian_field.md §3 gives e_20 = -0.758, e_60 = -0.967 to three decimals (half a unit: 5e-4)
    ds = dmftc.load(MODELS / "pspin3_gd.dmft").solve(steps=60)
    assert abs(ds.energy.values[20] + 0.758) < 5e-4
    assert abs(ds.energy.values[60] + 0.967) < 5e-4
    assert ds.C.dims == ("step", "step2") and np.allclose(np.diag(ds.C.values), 1.0, atol=1e-12)


@pytest.mark.parametrize("lr", [0.05, 0.3])
def test_radial_force_plus_p_times_energy_vanishes(lr):
    # Homogeneous f of degree p: mu = E[y F] = Σ_j [f' + f'' C] R = -p e exactly (docs/math/gaussian_field.md
    # §3). mu comes from the Gram products of the coefficient vectors, e from the sum over R:
    # two computations, equal to rounding.
    ds = dmftc.load(MODELS / "pspin3_gd.dmft", lr=lr).solve(steps=40)
    np.testing.assert_allclose(ds.mu.values + 3 * ds.energy.values, 0.0, atol=1e-12)


@pytest.mark.parametrize("momentum", ["spiked_matrix_tensor_hb", "spiked_matrix_tensor_nesterov"])
def test_momentum_with_beta_zero_is_gradient_descent(momentum):
    # The same recursion up to rounding: 1e-12. An initial overlap makes the signal terms act.
    gd = dmftc.load(MODELS / "spiked_matrix_tensor_gd.dmft", lr=0.05, D3=2 / 3)
    other = dmftc.load(MODELS / f"{momentum}.dmft", lr=0.05, beta=0.0, D3=2 / 3)
    a = solve_gaussian_field(gd.derive(), gd.params, steps=25, initial_overlap=0.2)
    b = solve_gaussian_field(other.derive(), other.params, steps=25, initial_overlap=0.2)
    for name in ("energy", "overlap", "mu", "m", "C", "R"):
        np.testing.assert_allclose(b[name].values, a[name].values, rtol=1e-12, atol=1e-12, err_msg=name)
    assert a.overlap.values[-1] > 0.25, "the signal must act for this test to mean something"


GOE_NESTEROV = (
    GOE_RIDGE.replace("model goe_ridge", "model goe_nesterov")
    .replace("param temp = 0.0", "param beta = 0.6")
    .replace("weights x ~ normal(0, 1)", "weights x ~ normal(0, 1)\nstate x_prev = x")
    .replace(
        "    x = x - lr * grad(x) + sqrt(2 * lr * temp) * gauss()",
        "    look = x + beta * (x - x_prev)\n    x_prev = x\n    x = look - lr * grad(x at look)",
    )
)


def test_nesterov_on_the_goe_matches_the_semicircle(tmp_path):
    # Nesterov evaluates the gradient at the look-ahead point y and reports observables at the
    # iterate x. In an eigenmode a of the Hessian: y_k = (1 + beta) u_k - beta u_{k-1},
    # u_{k+1} = g(a) y_k. Exact recursion against quadrature: 1e-9.
    path = tmp_path / "goe_nesterov.dmft"
    path.write_text(GOE_NESTEROV)
    lr, lam, beta, T = 0.1, 3.0, 0.6, 25
    ds = dmftc.load(path).solve(steps=T)

    def modes(a):
        u, previous, queries = [1.0], 1.0, []
        for _ in range(T + 1):
            queries.append((1 + beta) * u[-1] - beta * previous)
            previous = u[-1]
            u.append((1 - lr * (lam + a)) * queries[-1])
        return np.array(u[: T + 1]), np.array(queries)

    for k in (1, 7, 25):
        np.testing.assert_allclose(ds.sq_norm.values[k], _semicircle(lambda a: modes(a)[0][k] ** 2), rtol=1e-9)
        np.testing.assert_allclose(ds.energy.values[k], _semicircle(lambda a: a * modes(a)[0][k] ** 2 / 2), rtol=1e-9)
        np.testing.assert_allclose(ds.C.values[k, 3], _semicircle(lambda a: modes(a)[1][k] * modes(a)[1][3]), rtol=1e-9)


def test_gradient_descent_converges_to_the_flow_at_first_order():
    # e(t = 2) of projected GD with lr = t/k against the flow (uniform grid, Richardson
    # extrapolated to 1e-7): the error is O(lr), so halving lr halves it (ratio 2 + O(lr)).
    flow = dmftc.load(MODELS / "pspin3_flow.dmft")
    coarse, fine = (flow.solve(steps=round(2 / dt), dt=dt).energy.values[-1] for dt in (0.01, 0.005))
    exact = (4 * fine - coarse) / 3
    errors = []
    for lr in (0.04, 0.02, 0.01):
        ds = dmftc.load(MODELS / "pspin3_gd.dmft", lr=lr).solve(steps=round(2 / lr))
        errors.append(abs(ds.energy.values[-1] - exact))
    assert 1.8 < errors[0] / errors[1] < 2.2 and 1.8 < errors[1] / errors[2] < 2.2, errors
