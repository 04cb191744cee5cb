"""The Cugliandolo–Kurchan solvers (docs/math/gaussian_field.md §2, §4): closed forms, identities, grids."""

import numpy as np
import pytest
from scipy.optimize import curve_fit
from scipy.special import ive

import dmftc
from dmftc.classes.gaussian_field.solve import solve_gaussian_field
from dmftc.errors import SolverError

from .conftest import ROOT

MODELS = ROOT / "models"


def _g(s):
    """g(s) = I_1(2s)/s with the exponential scaled out (e^{2s} cancels in every ratio)."""
    return ive(1, 2 * s) / s


def _p2_energy(t):
    # e = -(1/2) d log g/ds at s = 2t; with I_1'(x) = I_0(x) - I_1(x)/x,
    # d log g/ds = 2 I_0(2s)/I_1(2s) - 2/s
    s = 2 * t
    return -0.5 * (2 * ive(0, 2 * s) / ive(1, 2 * s) - 2 / s)


def _richardson(model, t_end, dt, **options):
    """The uniform-grid solution at dt and dt/2, extrapolated: Heun is second order, so
    (4 X(dt/2) - X(dt)) / 3 has an O(dt^3) error. Returns a function of (name, t[, t'])."""
    coarse = model.solve(steps=round(t_end / dt), dt=dt, **options)
    fine = model.solve(steps=round(t_end / (dt / 2)), dt=dt / 2, **options)

    def value(name, *times):
        a = coarse[name].values[tuple(round(t / dt) for t in times)]
        b = fine[name].values[tuple(round(t / (dt / 2)) for t in times)]
        return (4 * b - a) / 3

    return value


def test_p2_flow_matches_the_bessel_closed_form():
    # docs/math/gaussian_field.md §4. Heun alone has errors 1.5e-5 (dt = 0.01) and 3.7e-6 (dt = 0.005) on
    # e(4); extrapolated, the measured error is below 1.2e-7, so 1e-6 holds with margin.
    value = _richardson(dmftc.load(MODELS / "pspin2_flow.dmft"), 4.0, 0.01)
    assert abs(value("energy", 1.0) - _p2_energy(1.0)) < 1e-6
    assert abs(value("energy", 4.0) - _p2_energy(4.0)) < 1e-6
    assert abs(value("C", 4.0, 2.0) - _g(6.0) / np.sqrt(_g(8.0) * _g(4.0))) < 1e-6
    assert abs(value("R", 4.0, 2.0) - _g(2.0) * np.sqrt(_g(4.0) / _g(8.0))) < 1e-6
    # the values quoted in docs/math/gaussian_field.md (5 decimals)
    assert abs(_p2_energy(1.0) + 0.65805) < 5e-6 and abs(_p2_energy(4.0) + 0.90781) < 5e-6
    assert abs(_g(6.0) / np.sqrt(_g(8.0) * _g(4.0)) - 0.91962) < 5e-6


@pytest.mark.parametrize("grid", ["uniform", "adaptive"])
def test_multiplier_plus_p_times_energy_vanishes(grid):
    # pure p-spin at T = 0: mu = ∫ (f''C + f') R = p^2/2 ∫ C^(p-1) R = -p e; the two quadratures
    # share their weights, so the identity holds to rounding (1e-10 over sums of ~1e3 terms)
    m = dmftc.load(MODELS / "pspin3_flow.dmft")
    ds = m.solve(steps=200, dt=0.05) if grid == "uniform" else m.solve(tmax=50.0, dt=0.02)
    np.testing.assert_allclose(ds.mu.values + 3 * ds.energy.values, 0.0, atol=1e-10)
    assert np.all(np.diff(ds.energy.sel(time=[0.5, 1.0, 2.0, 5.0, 10.0], method="nearest")) < 0)


def test_adaptive_grid_is_second_order_and_agrees_with_the_uniform_grid():
    # Reference: uniform grid, Richardson-extrapolated (error ~5e-6). The adaptive grid (BDF2,
    # copies next to the diagonal) is second order in its step: window 128 from dt = 0.01 has
    # step 0.04 at t = 5 and measured 1.2e-4 off; window 256 from dt = 0.005, 2.9e-5 (ratio 4).
    m = dmftc.load(MODELS / "pspin3_flow.dmft")
    reference = _richardson(m, 5.0, 0.02)("energy", 5.0)
    errors = []
    for dt, window in ((0.01, 128), (0.005, 256)):
        adaptive = solve_gaussian_field(m.derive(), m.params, tmax=5.0, dt=dt, window=window)
        k = int(np.argmin(abs(adaptive.time.values - 5.0)))
        assert abs(adaptive.time.values[k] - 5.0) < 1e-12 and "C" not in adaptive
        errors.append(abs(adaptive.energy.values[k] - reference))
    assert errors[0] < 2e-4 and 3 < errors[0] / errors[1] < 5, errors


def test_spike_terms_agree_between_solvers():
    # The spiked 2+3 model from an overlap 0.1: the uniform grid (Richardson, error ~1e-5), the
    # adaptive grid and projected gradient descent with lr = 0.005 must give the same e(4) and
    # m(4). The adaptive grid (second order) measured 1.2e-4 off on e (7.8e-5, 2.3e-5 with the
    # step halved), so 2.5e-4; GD is first order in lr: 1.8e-3 off on e, so 3e-3.
    flow = dmftc.load(MODELS / "spiked_matrix_tensor_flow.dmft")
    value = _richardson(_WithOverlap(flow, 0.1), 4.0, 0.02)
    adaptive = solve_gaussian_field(flow.derive(), flow.params, tmax=4.0, dt=0.01, window=128, initial_overlap=0.1)
    k = int(np.argmin(abs(adaptive.time.values - 4.0)))
    for name in ("energy", "overlap"):
        assert abs(adaptive[name].values[k] - value(name, 4.0)) < 2.5e-4, name
    gd = dmftc.load(MODELS / "spiked_matrix_tensor_gd.dmft", lr=0.005)
    discrete = solve_gaussian_field(gd.derive(), gd.params, steps=800, initial_overlap=0.1)
    for name in ("energy", "overlap"):
        assert abs(discrete[name].values[800] - value(name, 4.0)) < 3e-3, name
    assert value("overlap", 4.0) > 0.11, "the signal term must move the overlap"


class _WithOverlap:
    """A model whose solve() starts at an overlap with the signal (no syntax for it yet)."""

    def __init__(self, model, overlap):
        self.model, self.overlap = model, overlap

    def solve(self, **options):
        return solve_gaussian_field(self.model.derive(), self.model.params, initial_overlap=self.overlap, **options)


def test_equilibrium_start_is_stationary_and_obeys_fdt():
    # Langevin at T = 1 > T_d = 0.612 from an equilibrium start at T0 = T (docs/math/gaussian_field.md §4):
    # mu = T + f'(1)/T = 2.5 and e = -f(1)/T = -0.5 at all times, C and R depend on t - t' only,
    # and R(t,t') = (1/T) dC(t,t')/dt'. Heun's error is O(dt^2): at dt = 0.01 mu drifts by
    # 3.1e-4 by t = 6 (5e-4 allowed, 1.2e-3 at dt = 0.02); C(tw + 1, tw) moves by 5e-6 over
    # tw in [1, 5] and the FDT (central differences) holds to 1e-6: 2e-5 bounds both.
    m = dmftc.load(MODELS / "pspin3_langevin.dmft", temp=1.0)
    dt = 0.01
    ds = solve_gaussian_field(m.derive(), m.params, steps=600, dt=dt, initial_temperature=1.0)
    np.testing.assert_allclose(ds.mu.values, 2.5, atol=5e-4)
    np.testing.assert_allclose(ds.energy.values, -0.5, atol=2e-4)
    C, R = ds.C.values, ds.R.values
    lag = 100
    for tw in (100, 300, 500):
        assert abs(C[tw + lag, tw] - C[100 + lag, 100]) < 2e-5
        assert abs(R[tw + lag, tw] - R[100 + lag, 100]) < 2e-5
        assert abs(R[tw + lag, tw] - (C[tw + lag, tw + 1] - C[tw + lag, tw - 1]) / (2 * dt)) < 2e-5
    assert 0.05 < C[200, 100] < 0.9, "the correlation must decay for the test to mean something"


def test_random_start_ages_and_breaks_fdt_below_td():
    # The same test must fail where it should: below T_d from a random start, C(tw + 1, tw)
    # grows with tw (aging).
    m = dmftc.load(MODELS / "pspin3_langevin.dmft", temp=0.4)
    ds = m.solve(steps=400, dt=0.02)
    C = ds.C.values
    assert C[150, 100] < C[250, 200] < C[400, 350]


def test_adaptive_grid_refuses_a_temperature():
    m = dmftc.load(MODELS / "pspin3_langevin.dmft")
    with pytest.raises(SolverError, match="adaptive grid handles gradient flow"):
        m.solve(tmax=10.0)


def test_too_large_dt_is_a_solver_error():
    with pytest.raises(SolverError, match="diverges: values stop being finite at step"):
        dmftc.load(MODELS / "pspin3_flow.dmft").solve(steps=400, dt=1.5)


@pytest.mark.slow
def test_energy_approaches_the_threshold():
    # Gradient flow on the pure 3-spin to t = 1e4 (adaptive grid, window 512, ~1 min): e(t)
    # decreases towards e_th = -sqrt(4/3) = -1.1547 (docs/math/gaussian_field.md §4). A fit e_inf + A t^-a
    # over t in [100, 1e4] gives e_inf = -1.15345 (1.25e-3 above e_th; window 256: 2.0e-3, so
    # the gap is the grid's late-time bias, see examples/pspin3_threshold.py): 3e-3 allowed.
    ds = dmftc.load(MODELS / "pspin3_flow.dmft").solve(tmax=1e4)
    t, e = ds.time.values, ds.energy.values
    assert t[-1] >= 1e4
    assert np.all(np.diff(ds.energy.sel(time=[10, 100, 1000, 3000, 1e4], method="nearest")) < 0)
    late = t >= 100
    (e_inf, amplitude, exponent), _ = curve_fit(
        lambda t, a, b, c: a + b * t**-c, t[late], e[late], p0=(-1.15, 0.1, 0.7)
    )
    assert abs(e_inf + np.sqrt(4 / 3)) < 3e-3, e_inf
    assert 0.3 < exponent < 1.2 and amplitude > 0


def test_the_window_is_an_option_of_the_adaptive_grid():
    # --window reaches the solver (same values as the internal call), and needs --tmax
    m = dmftc.load(MODELS / "pspin3_flow.dmft")
    ds = m.solve(tmax=50.0, dt=0.02, window=64)
    direct = solve_gaussian_field(m.derive(), m.params, tmax=50.0, dt=0.02, window=64)
    np.testing.assert_array_equal(ds.energy.values, direct.energy.values)
    assert not np.array_equal(ds.time.values, m.solve(tmax=50.0, dt=0.02).time.values)
    with pytest.raises(SolverError, match="give --tmax too"):
        m.solve(window=64)


def test_adaptive_grid_reaches_a_million():
    # Gradient flow on the pure 3-spin to t = 1e6 with a window of 256 (5 s). While C next to
    # the diagonal was copied from the previous row, it drifted away from 1, the energy rose
    # again from t = 2e5 (to e - e_th = 1e-2 at 6.7e5) and the grid failed at t = 9e5
    # (docs/math/gaussian_field.md §5). The energy must fall at every decade and stay above the
    # threshold e_th = -sqrt(4/3), which gradient flow from a random start does not cross;
    # e(1e6) - e_th measured 1.49e-3 (the grid's bias, eq. field-adaptive-bias): 3e-3 allowed.
    m = dmftc.load(MODELS / "pspin3_flow.dmft")
    ds = solve_gaussian_field(m.derive(), m.params, tmax=1e6, dt=0.01, window=256)
    assert ds.time.values[-1] >= 1e6
    gap = ds.energy.sel(time=[1e2, 1e3, 1e4, 1e5, 1e6], method="nearest").values + np.sqrt(4 / 3)
    assert np.all(np.diff(gap) < 0) and np.all(gap > 0) and gap[-1] < 3e-3, gap


@pytest.mark.slow
def test_adaptive_grid_converges_with_the_window():
    # e(t) with windows 256 and 512 differ by 6.5e-4, 6.1e-4, 7.2e-4 and 5.8e-4 at t = 1e3 ..
    # 1e6 (the late-time bias falls like window^-0.7 to window^-0.8, eq. field-adaptive-bias):
    # 1e-3 allowed. At t = 20 the window-512 grid is 5.4e-5 from the uniform grid (Richardson,
    # dt = 0.025 / 0.0125, itself good to ~2e-5).
    m = dmftc.load(MODELS / "pspin3_flow.dmft")
    runs = {w: solve_gaussian_field(m.derive(), m.params, tmax=1e6, dt=0.01, window=w) for w in (256, 512)}
    for t in (1e3, 1e4, 1e5, 1e6):
        at = [ds.energy.sel(time=t, method="nearest").item() for ds in runs.values()]
        assert abs(at[0] - at[1]) < 1e-3, (t, at)
    reference = _richardson(m, 20.0, 0.025)("energy", 20.0)
    assert abs(runs[512].energy.sel(time=20.0, method="nearest").item() - reference) < 1e-4
