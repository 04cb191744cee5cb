"""The linear_system class (docs/math/linear_system.md §2-§3): DMFT closure, spectral
solver and simulator against closed forms and against each other."""

import numpy as np
import pytest
from scipy.special import i0, iv
from typer.testing import CliRunner

import dmftc
from dmftc.classes.linear_system import spectra
from dmftc.cli import app
from dmftc.errors import SolverError
from dmftc.results.dataset import read

from .conftest import ROOT
from .oracles_rmt import ginibre_correlation_euler, goe_response_euler

MODELS = ROOT / "models"
runner = CliRunner()


def goe(**params):
    return dmftc.load(MODELS / "goe_relaxation.dmft", **({"z": 0.0} | params))


def symbols(m) -> dict:
    """Parameter symbol -> value, as the spectral rules take them."""
    return {p.symbol: m.params[p.name] for p in m.model.params}


def _richardson(model, name, t, s, dt):
    """The Euler DMFT at dt and dt/2 extrapolated to dt -> 0: (2 X(dt/2) - X(dt)), error O(dt^2)."""
    coarse = model.solve(steps=round(t / dt), dt=dt)[name].values[round(t / dt), round(s / dt)]
    fine = model.solve(steps=round(2 * t / dt), dt=dt / 2)[name].values[round(2 * t / dt), round(2 * s / dt)]
    return 2 * fine - coarse


def test_goe_spectral_solver_gives_the_bessel_response():
    # docs/math/linear_system.md §2: R(τ) = I_1(2τ)/τ and C(t,t') = R(t+t') (isotropic start, z = 0, no noise). The
    # spectral solver integrates e^{-λτ} over the semicircle with a Gauss rule exact far beyond
    # the degree these times need: rounding only, 1e-12 relative.
    ds = goe().solve(steps=100, dt=0.02, method="spectral")
    for lag in (25, 50, 100):
        tau = lag * 0.02
        assert abs(ds.R.values[100, 100 - lag] / (iv(1, 2 * tau) / tau) - 1) < 1e-12
    assert abs(ds.C.values[100, 50] / (iv(1, 6.0) / 3.0) - 1) < 1e-12  # C(2, 1) = R(3)
    assert abs(ds.sq_norm.values[100] / (iv(1, 8.0) / 4.0) - 1) < 1e-12  # C(2, 2) = R(4)


def test_goe_dmft_closure_is_the_discretised_bessel_response():
    # The DMFT of the Euler-discretised flow is exact for that dynamics: R(k) = (1/N) Tr (1 - dt M)^k,
    # a sum of Catalan numbers; coefficient vectors carry no sampling error (rounding: 1e-12).
    dt = 0.02
    ds = goe().solve(steps=100, dt=dt)
    for lag in (1, 10, 50, 100):
        assert abs(ds.R.values[100, 100 - lag] / goe_response_euler(lag, dt) - 1) < 1e-12
    assert abs(ds.C.values[100, 50] / goe_response_euler(150, dt) - 1) < 1e-12  # C(t,t') = R(t+t')


def test_goe_dmft_converges_to_the_bessel_response():
    # Euler error O(dt), extrapolated O(dt^2): at dt = 0.02 the measured error of R(2) is 9e-4
    # relative after extrapolation (3.9% before); 2e-3 leaves a margin, and the plain Euler
    # value fails it.
    value = _richardson(goe(), "R", 2.0, 0.0, 0.02)
    assert abs(value / (iv(1, 4.0) / 2.0) - 1) < 2e-3


def test_ginibre_has_no_memory_and_the_bessel_correlation():
    # docs/math/linear_system.md §2: R ≡ 1 (z = 0) and ∂_t ∂_t' C = C, C(t,t') = I_0(2 sqrt(t t'));
    # the Euler version is the
    # binomial sum of oracles_rmt (rounding: 1e-12). Extrapolated C(2,1) has an O(dt^2) error of
    # 1.4e-4 relative at dt = 0.02 (1.3% before); 1e-3 is the bound.
    m = dmftc.load(MODELS / "ginibre_flow.dmft")
    dt = 0.02
    ds = m.solve(steps=100, dt=dt)
    assert np.array_equal(np.tril(ds.R.values), np.tril(np.ones((101, 101))))
    for k, l in ((100, 50), (100, 100), (30, 7)):
        assert abs(ds.C.values[k, l] / ginibre_correlation_euler(k, l, dt) - 1) < 1e-12
    assert abs(_richardson(m, "C", 2.0, 1.0, dt) / i0(2 * np.sqrt(2.0)) - 1) < 1e-3


@pytest.mark.parametrize("alpha, expected", [(0.5, 0.70711), (2.0, 0.56155)])
def test_marchenko_pastur_resolvent(alpha, expected):
    # docs/math/linear_system.md §3: R̃(1) = (1/N) Tr (1 + M)^{-1}, the root of
    # q s R² + (s + 1 - q) R - 1 = 0 (quoted to 5
    # digits); the Gauss rule of the density reproduces the closed form to 1e-12.
    m = dmftc.load(MODELS / "wishart_flow.dmft", ratio=alpha)
    value = spectra.resolvent(m.derive().law, symbols(m), 1.0)
    closed = spectra.marchenko_pastur_resolvent(1.0, alpha)
    assert abs(value.real - closed) < 1e-12 and abs(closed - expected) < 5e-6


@pytest.mark.parametrize("alpha", [0.5, 2.0])
def test_dmft_response_has_the_resolvent_as_laplace_transform(alpha):
    # The Euler DMFT response R_k has the exact discrete Laplace transform (trapezoid rule)
    # Σ_k dt e^{-s k dt} R_k - dt R_0 / 2 = ∫ ρ [dt / (1 - e^{-s dt} (1 - dt λ)) - dt/2] (a geometric
    # series per mode), which tends to R̃(s) = ∫ ρ/(s + λ) as dt -> 0. Truncation at t = 30 leaves
    # e^{-30} ~ 1e-13; 1e-9 bounds rounding over 600 steps. Against R̃(1) itself the Euler step
    # leaves O(dt): 1.0% measured at dt = 0.05, bound 2%.
    dt, steps = 0.05, 600
    m = dmftc.load(MODELS / "wishart_flow.dmft", ratio=alpha)
    R = m.solve(steps=steps, dt=dt).R.values[steps, ::-1]
    transform = np.sum(dt * np.exp(-np.arange(steps + 1) * dt) * R) - dt * R[0] / 2
    rule = spectra.quadrature(m.derive().law, symbols(m))
    discrete = np.sum(rule.weights * (dt / (1 - np.exp(-dt) * (1 - dt * rule.nodes)) - dt / 2))
    assert abs(transform - discrete) < 1e-9
    assert abs(transform / spectra.marchenko_pastur_resolvent(1.0, alpha) - 1) < 0.02


@pytest.mark.parametrize(
    "model, params",
    [
        ("goe_relaxation", {"z": 2.5, "temp": 0.3}),
        ("wishart_flow", {"ratio": 0.5, "temp": 0.2}),
        ("wishart_flow", {"ratio": 1.0}),
        ("wishart_heavy_ball", {}),
    ],
)
def test_dmft_closure_equals_the_spectral_solver(model, params):
    # Two independent solutions of the same discretised dynamics (cavity closure by coefficient
    # vectors; eigen-direction recursions integrated over ρ): they agree to rounding (1e-9;
    # ratio = 1, where the Marchenko–Pastur density diverges at 0, to 1e-11 measured).
    m = dmftc.load(MODELS / f"{model}.dmft", **params)
    options = {"dt": 0.05} if m.model.time == "continuous" else {}
    a = m.solve(steps=40, method="dmft", **options)
    b = m.solve(steps=40, method="spectral", euler=True, **options)
    for name in ["C", "R"] + [o.name for o in m.model.observables]:
        np.testing.assert_allclose(a[name].values, b[name].values, rtol=1e-9, atol=1e-12, err_msg=name)


def test_prescribed_spectrum_closed_forms(tmp_path):
    # C(t,t) = ∫ ρ e^{-2λt}: uniform on [0, top] gives (1 - e^{-2 top t}) / (2 top t); atoms give
    # the mean of e^{-2 a t}. Gauss–Legendre and the atoms are exact here up to rounding.
    m = dmftc.load(MODELS / "spectrum_flow.dmft", top=2.0)
    ds = m.solve(steps=50, dt=0.02)
    t = ds.time.values[1:]
    np.testing.assert_allclose(ds.sq_norm.values[1:], (1 - np.exp(-4 * t)) / (4 * t), rtol=1e-12)
    text = (
        (MODELS / "spectrum_flow.dmft")
        .read_text()
        .replace("spectrum(uniform(0, top))", "spectrum(atoms(0.1, 1, 1, 2))")
    )
    path = tmp_path / "atoms.dmft"
    path.write_text(text)
    atoms = dmftc.load(path).solve(steps=50, dt=0.02).sq_norm.values[50]
    assert abs(atoms - np.mean(np.exp(-2 * np.array([0.1, 1, 1, 2]) * 1.0))) < 1e-14


def test_average_over_the_matrix_keeps_the_mean_response():
    # E_M[x(t)] = R(t) x0 + Σ_s R(t-1-s) sqrt(2 T dt) ξ(s) (rotation-invariant M): the mean
    # predictor's |x|²/N is R_k² + 2 T dt Σ_j<k R_j²; averaging over init and noise leaves 0.
    # Both are sums of the same coefficients: rounding, 1e-12.
    m = goe(z=2.0, temp=0.3)
    dt, k = 0.02, 100
    ds = m.solve(steps=k, dt=dt, average_over="matrix")
    R = ds.R.values[k, ::-1]
    assert abs(ds.sq_norm_bias.values[k] - (R[k] ** 2 + 2 * 0.3 * dt * np.sum(R[:k] ** 2))) < 1e-12
    np.testing.assert_allclose(ds.sq_norm_variance.values, ds.sq_norm.values - ds.sq_norm_bias.values)
    assert np.max(np.abs(m.solve(steps=20, dt=dt, average_over="init,noise").sq_norm_bias.values)) == 0.0


@pytest.mark.parametrize(
    "model, params", [("goe_relaxation", {"z": 0.0}), ("wishart_flow", {"ratio": 2.0}), ("ginibre_flow", {})]
)
def test_simulation_agrees_with_the_theory(model, params):
    # N = 300, 8 runs against the exact-in-time spectral solver (Ginibre: the closure at dt/4,
    # 0.2% from the flow at t = 1). C(t,t) over runs has a standard error of ~2% here; 4 standard
    # errors plus 1% for 1/N effects make a false alarm rare (Gaussian: ~1e-4 per point). The
    # response is a trace of one matrix per run, self-averaging to O(1/N): 2% at N = 300.
    m = dmftc.load(MODELS / f"{model}.dmft", **params)
    if model == "ginibre_flow":
        theory = m.solve(steps=200, dt=0.005).isel(step=slice(None, None, 4), step2=slice(None, None, 4))
    else:
        theory = m.solve(steps=50, dt=0.02, method="spectral")
    sim = m.simulate(dim=300, runs=8, steps=50, dt=0.02)
    for step in (10, 25, 50):
        gap = abs(sim.sq_norm.values[step] - theory.sq_norm.values[step])
        assert gap < 4 * sim.sq_norm_sem.values[step] + 0.01 * theory.sq_norm.values[step], step
    np.testing.assert_allclose(sim.R.values[50, [0, 25]], theory.R.values[50, [0, 25]], rtol=0.02)


@pytest.mark.slow
@pytest.mark.parametrize(
    "model, params",
    [
        ("goe_relaxation", {"z": 2.0, "temp": 0.5}),
        ("wishart_flow", {"ratio": 0.5, "temp": 0.2}),
        ("ginibre_flow", {}),
        ("spectrum_flow", {}),
        ("wishart_heavy_ball", {}),
    ],
)
def test_simulation_agrees_at_large_size(model, params):
    # N = 1500, 10 runs against the exact-in-time spectral solver where it exists (else the
    # closure at dt = 0.005): 4 standard errors plus 0.5% for 1/N and O(dt) effects.
    m = dmftc.load(MODELS / f"{model}.dmft", **params)
    discrete = m.model.time == "discrete"
    options = {} if discrete else {"dt": 0.02}
    steps = 40 if discrete else 100
    method = "dmft" if model == "ginibre_flow" else "spectral"
    theory = m.solve(steps=steps, method=method, **options)
    sim = m.simulate(dim=1500, runs=10, steps=steps, **options)
    for o in m.model.observables:
        gap = np.abs(sim[o.name].values - theory[o.name].values)
        assert np.all(gap <= 4 * sim[f"{o.name}_sem"].values + 5e-3 * np.abs(theory[o.name].values) + 1e-6), o.name


def test_solver_errors():
    with pytest.raises(SolverError, match="needs a normal matrix"):
        dmftc.load(MODELS / "ginibre_flow.dmft").solve(steps=3, method="spectral")
    with pytest.raises(SolverError, match="DMFT closure of spectrum"):
        dmftc.load(MODELS / "spectrum_flow.dmft").solve(steps=3, method="dmft")
    with pytest.raises(SolverError, match="needs the DMFT closure"):
        goe().solve(steps=3, method="spectral", average_over="init")
    with pytest.raises(SolverError, match="unknown noise source 'matirx'") as info:
        goe().solve(steps=3, average_over="matirx")
    assert "did you mean 'matrix'" in info.value.hint
    with pytest.raises(SolverError, match="--method is for .*linear systems"):
        dmftc.load(MODELS / "ridge_program.dmft").solve(steps=3, method="spectral")


@pytest.mark.parametrize("fmt", ["text", "latex", "markdown"])
def test_derivation_prints_the_cavity_closure(fmt):
    text = dmftc.load(MODELS / "wishart_heavy_ball.dmft").derive().render(fmt)
    assert "C_h" in text and ("ψ" in text or r"\psi" in text)
    assert "P(λ)" in text or r"P(\lambda)" in text


def test_command_line_solve_and_simulate(tmp_path):
    out = tmp_path / "goe.nc"
    result = runner.invoke(
        app,
        [
            "solve",
            str(MODELS / "goe_relaxation.dmft"),
            "--method",
            "spectral",
            "--dt",
            "0.05",
            "--steps",
            "20",
            "-q",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    ds = read(out)
    assert ds.attrs["method"] == "spectral" and ds.C.shape == (21, 21)
    result = runner.invoke(
        app, ["simulate", str(MODELS / "wishart_heavy_ball.dmft"), "--dim", "50", "--runs", "2", "--steps", "5", "-q"]
    )
    assert result.exit_code == 0, result.output
    assert "sq_norm" in result.output
    result = runner.invoke(app, ["solve", str(MODELS / "goe_relaxation.dmft"), "--average-over", "bogus", "-q"])
    assert result.exit_code == 2 and "unknown noise source 'bogus'" in result.output


def test_codegen_is_not_available():
    result = runner.invoke(app, ["codegen", str(MODELS / "goe_relaxation.dmft")])
    assert result.exit_code == 2 and "no generated code" in result.output
