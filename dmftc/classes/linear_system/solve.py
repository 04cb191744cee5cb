"""The solvers of a ``linear_system`` model: its DMFT closure or its spectrum.

* ``method="dmft"`` (goe, ginibre, wishart): the cavity closure of
  :mod:`dmftc.classes.linear_system.derive`
  solved exactly by coefficient vectors, one causal pass. Every variable of the single-site
  process is a linear combination of the inputs ``[1, primitives | u(0..T) | kicks(0..T) |
  noises]``; the Gram matrix of the inputs holds the raw moments of the primitives, the
  covariance of the field ``u`` (``var C_θ``, or ``C_h`` for wishart) and the identity for the
  noises. ``C(t,s) = z(t)ᵀ G z(s)``, ``χ(t,s)`` is the ``u(s)`` entry of ``θ(t)`` and ``R(t,s)``
  the ``kick(s)`` entry of ``x(t)``. A flow takes one Euler step of length ``dt`` per step.
* ``method="spectral"`` (normal matrices: goe, wishart, spectrum): each eigen-direction of M
  is a k-dimensional linear recursion (a flow: exactly integrated, matrix exponentials per
  eigenvalue); the curves are Gauss-rule integrals over the spectral density
  (:mod:`dmftc.classes.linear_system.spectra`). ``euler=True`` takes the Euler step of a flow instead, to compare
  with the DMFT pass at equal ``dt``.

The all-ones direction (the mean of the initial law and constant drives) and the centred
initial inputs are isotropic in the eigenbasis of a rotation-invariant M: each eigen-direction
sees one shared standard normal ``a`` for the former and independent ones for the latter.

``average_over`` (dmft only) gives the mean predictor over a subset of the random sources
(``init``, ``noise``, ``matrix``; docs/math/linear_system.md §5): two replicas share every other source,
and their cross moments follow from the same coefficient vectors with the cross Gram matrix
(an averaged source contributes its mean only). Observables of the mean predictor are written
``<name>_bias``, and ``<name>_variance = <name> - <name>_bias`` (the variance over the averaged
sources for squared errors).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import sympy as sp
from scipy.linalg import expm
from threadpoolctl import threadpool_limits

from dmftc.classes.linear_system import spectra
from dmftc.classes.linear_system.derive import LinearDerivation
from dmftc.errors import SolverError
from dmftc.language.symbols import DT
from dmftc.results.dataset import make_dataset, run_attributes
from dmftc.runtime.averaging import parse_sources, split
from dmftc.runtime.stepping import MAX_MAGNITUDE, diagnose, within_scale

log = logging.getLogger("dmftc")

SOURCES = ("init", "noise", "matrix")
DMFT_ENSEMBLES = ("goe", "ginibre", "wishart")
UNSTABLE = "the matrix drives the system unstable (a shift too small, or a step too large)"
SIMULATED_ONLY = ("rf_drive", "rf_drive_hermitian")  # products of two Wishart matrices


@dataclass(frozen=True)
class Coefficients:
    """The numbers of one step ``z' = A z + b (Mθ) + c + S ζ``, ``θ = c0 + cθ · z``."""

    A: np.ndarray  # (k, k)
    b: np.ndarray  # (k,)
    c: np.ndarray  # (k,)
    S: np.ndarray  # (k, noises)
    c_theta: np.ndarray  # (k,)
    c0: float
    init: np.ndarray  # (k, 1 + P): z(0) = init[:, 0] + init[:, 1:] @ primitives
    prim_mean: np.ndarray  # (P,)
    prim_var: np.ndarray  # (P,) centred variances
    rates: tuple | None  # flows: (L, ell, c_rate, S_rate), the rates of the Euler step
    forms: tuple  # per mean() aggregate: (Q, l, c) with E e = c + l·E z + Σ Q_ij E z_i z_j
    ensemble: str
    var: float  # goe, ginibre: entry variance × N
    ratio: float  # wishart: P / N
    model: object  # the analysed model (for messages)


def coefficients(d: LinearDerivation, params: dict, dt: float | None) -> Coefficients:
    m = d.model
    values = {p.symbol: params[p.name] for p in m.params} | ({DT: dt} if m.time == "continuous" else {})

    def num(e) -> np.ndarray:
        return (
            np.array(sp.Matrix(e).subs(values), dtype=float)
            if isinstance(e, sp.MatrixBase)
            else np.array(float(sp.sympify(e).subs(values)))
        )

    z = list(d.coordinates)
    prims = [p.symbol for p in m.primitives]
    init = np.zeros((len(z), 1 + len(prims)))
    for i, v in enumerate(m.coordinates):
        e = sp.expand(v.init)
        init[i, 0] = float(e.subs({s: 0 for s in prims}).subs(values))
        for j, s in enumerate(prims):
            init[i, 1 + j] = float(sp.diff(e, s).subs(values))
    prim_mean = np.array([0.5 if p.law == "uniform" else 0.0 for p in m.primitives])
    prim_var = np.array([1 / 12 if p.law == "uniform" else 1.0 for p in m.primitives])
    forms = []
    for o in m.observables:
        for a in o.aggregates:
            e = sp.expand(a.expr.subs(values))
            Q = np.array([[float(sp.diff(e, zi, zj)) / 2 for zj in z] for zi in z])
            zero = {s: 0 for s in z}
            l = np.array([float(sp.diff(e, zi).subs(zero)) for zi in z])
            forms.append((Q, l, float(e.subs(zero))))
    law = d.law
    rates = tuple(num(r) for r in d.rates) if d.rates is not None else None
    return Coefficients(
        A=num(d.transition),
        b=num(d.coupling).ravel(),
        c=num(d.constant).ravel(),
        S=num(d.noise).reshape(len(z), -1),
        c_theta=num(d.query_coefficients).ravel(),
        c0=float(num(d.query_constant)),
        init=init,
        prim_mean=prim_mean,
        prim_var=prim_var,
        rates=None if rates is None else (rates[0], rates[1].ravel(), rates[2].ravel(), rates[3].reshape(len(z), -1)),
        forms=tuple(forms),
        ensemble=law.ensemble,
        var=float(law.args["var"].subs(values)) if "var" in law.args else 1.0,
        ratio=float(law.args["ratio"].subs(values)) if "ratio" in law.args else 1.0,
        model=m,
    )


# ------------------------------------------------------------------------------------ DMFT


class _Basis:
    """Offsets of the input blocks: [1, primitives | u(0..T) | kicks(0..T) | noises(t, j)]."""

    def __init__(self, P: int, T: int, n_noise: int):
        self.P1 = 1 + P
        self.u = self.P1
        self.kick = self.u + T + 1
        self.noise = self.kick + T + 1
        self.size = self.noise + (T + 1) * n_noise
        self.n_noise = n_noise


def _gram(basis: _Basis, G0: np.ndarray, field: np.ndarray, noise_on: float):
    """v -> G v for the block-diagonal Gram matrix (kicks carry no randomness)."""
    u, n = basis.u, field.shape[0]

    def apply(v: np.ndarray) -> np.ndarray:
        out = np.zeros_like(v)
        out[..., : basis.P1] = v[..., : basis.P1] @ G0.T
        out[..., u : u + n] = v[..., u : u + n] @ field.T
        out[..., basis.noise :] = noise_on * v[..., basis.noise :]
        return out

    return apply


def _second_moments(cf: Coefficients, shared_init: bool) -> np.ndarray:
    """Moments of (1, primitives) between two replicas: raw second moments when the initial
    inputs are shared, products of means when they are independent copies."""
    means = np.concatenate([[1.0], cf.prim_mean])
    G0 = np.outer(means, means)
    if shared_init:
        G0[np.arange(1, len(means)), np.arange(1, len(means))] += cf.prim_var
    return G0


def dmft_pass(cf: Coefficients, T: int) -> dict:
    """The exact causal pass of the closure (module docstring). Returns the coefficient
    histories ``Z`` (T+1, k, B) and ``TH`` (T+1, B), the row side ``H`` (wishart: h(t) over
    ω(0..T)), the covariance ``field`` of the field and the basis."""
    k = cf.A.shape[0]
    basis = _Basis(cf.init.shape[1] - 1, T, cf.S.shape[1])
    Z = np.zeros((T + 1, k, basis.size))
    TH = np.zeros((T + 1, basis.size))
    C = np.zeros((T + 1, T + 1))
    chi = np.zeros((T + 1, T + 1))
    field = np.zeros((T + 1, T + 1))  # covariance of u (goe, ginibre) or ν (wishart)
    H = np.zeros((T + 1, T + 1))  # wishart: h(t) over ω(0..T)
    q = 1 / cf.ratio
    G = _gram(basis, _second_moments(cf, True), field, 1.0)
    Z[0, :, : basis.P1] = cf.init
    Z[0, 0, basis.kick] = 1.0  # the weight is the first coordinate
    for t in range(T + 1):
        TH[t] = cf.c_theta @ Z[t]
        TH[t, 0] += cf.c0
        C[t, : t + 1] = TH[: t + 1] @ G(TH[t])
        C[: t + 1, t] = C[t, : t + 1]
        chi[t, :t] = TH[t, basis.u : basis.u + t]
        Y = np.zeros(basis.size)
        Y[basis.u + t] = 1.0
        if cf.ensemble == "goe":
            field[t, : t + 1] = field[: t + 1, t] = cf.var * C[t, : t + 1]
            Y += cf.var * chi[t, :t] @ TH[:t]
        elif cf.ensemble == "ginibre":
            field[t, : t + 1] = field[: t + 1, t] = cf.var * C[t, : t + 1]
        else:  # wishart: the row side first, then the field ν(t) and its memory
            H[t, t] = 1.0
            H[t] += q * chi[t, :t] @ H[:t]
            field[t, : t + 1] = field[: t + 1, t] = H[: t + 1, : t + 1] @ (q * C[: t + 1, : t + 1]) @ H[t, : t + 1]
            Y += H[t, : t + 1] @ TH[: t + 1]
        if not within_scale(C[t, t]):
            raise diagnose(cf.model, t, [("C(t, t)", C[t, t])], hint=UNSTABLE)
        if t == T:
            break
        Z[t + 1] = cf.A @ Z[t] + np.outer(cf.b, Y)
        Z[t + 1, :, 0] += cf.c
        Z[t + 1, :, basis.noise + t * basis.n_noise : basis.noise + (t + 1) * basis.n_noise] += cf.S
        Z[t + 1, 0, basis.kick + t + 1] += 1.0
    return {"Z": Z, "TH": TH, "H": H, "field": field, "basis": basis}


def _moments(cf: Coefficients, Z: np.ndarray, G, basis: _Basis) -> tuple[np.ndarray, np.ndarray]:
    """E[z(t)] (T+1, k) and E[z(t) z(t)ᵀ] (T+1, k, k) from the coefficient history."""
    mean = Z[:, :, 0] + Z[:, :, 1 : basis.P1] @ cf.prim_mean
    second = np.einsum("tib,tjb->tij", Z, G(Z))
    return mean, second


def cross_moments(cf: Coefficients, run: dict, sources: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Moments of the mean predictor over ``sources`` (module docstring): the cross Gram
    between two replicas, built causally like the closure."""
    basis, TH, H = run["basis"], run["TH"], run["H"]
    T = TH.shape[0] - 1
    q = 1 / cf.ratio
    cross = np.zeros((T + 1, T + 1))  # C_θ between replicas
    field = np.zeros((T + 1, T + 1))
    shared_matrix = "matrix" not in sources
    G = _gram(basis, _second_moments(cf, "init" not in sources), field, 0.0 if "noise" in sources else 1.0)
    for t in range(T + 1):
        cross[t, : t + 1] = TH[: t + 1] @ G(TH[t])
        cross[: t + 1, t] = cross[t, : t + 1]
        if not shared_matrix:
            continue  # independent matrices: independent fields, no cross covariance
        if cf.ensemble == "wishart":
            field[t, : t + 1] = field[: t + 1, t] = H[: t + 1, : t + 1] @ (q * cross[: t + 1, : t + 1]) @ H[t, : t + 1]
        else:
            field[t, : t + 1] = field[: t + 1, t] = cf.var * cross[t, : t + 1]
    return _moments(cf, run["Z"], G, basis)


# -------------------------------------------------------------------------------- spectral


def _mode_steps(cf: Coefficients, lam: np.ndarray, dt: float | None, euler: bool):
    """Per eigenvalue: the one-step map P (n, k, k), the forcing f (n, k) along the all-ones
    direction and the noise covariance Q (n, k, k) added per step."""
    k = cf.A.shape[0]
    if cf.rates is None or euler:
        P = mode_map(cf, lam, dt, euler)
        f = cf.c[None] + lam[:, None] * (cf.b * cf.c0)[None]
        Q = np.broadcast_to(cf.S @ cf.S.T, (lam.size, k, k)).copy()
        return P, f, Q
    L, ell, c_rate, S_rate = cf.rates
    gen = L[None] + lam[:, None, None] * np.outer(ell, cf.c_theta)[None]  # G(λ)
    drive = c_rate[None] + lam[:, None] * (ell * cf.c0)[None]
    aug = np.zeros((lam.size, k + 1, k + 1))
    aug[:, :k, :k], aug[:, :k, k] = gen, drive
    E = expm(aug * dt)
    P, f = E[:, :k, :k], E[:, :k, k]  # e^{G dt}, ∫_0^dt e^{G s} ds · drive
    # Van Loan: expm([[-G, SSᵀ], [0, Gᵀ]] dt) = [[., F12], [0, F22]], Q = F22ᵀ F12
    van = np.zeros((lam.size, 2 * k, 2 * k))
    van[:, :k, :k], van[:, :k, k:], van[:, k:, k:] = -gen, (S_rate @ S_rate.T)[None], np.swapaxes(gen, 1, 2)
    V = expm(van * dt)
    Q = np.swapaxes(V[:, k:, k:], 1, 2) @ V[:, :k, k:]
    return P, f, Q


def spectral_pass(cf: Coefficients, rule: spectra.Quadrature, T: int, dt: float | None, euler: bool = False) -> dict:
    """Means, equal-time second moments, C of the weight and R, as integrals over the spectrum
    (module docstring)."""
    lam, w = rule.nodes, rule.weights
    n, k = lam.size, cf.A.shape[0]
    P, f, Q = _mode_steps(cf, lam, dt, euler)
    D = np.zeros((n, T + 1, k))  # coefficient of the all-ones direction a
    Gp = np.zeros((n, cf.prim_var.size, T + 1, k))  # coefficients of the centred initial inputs
    Sn = np.zeros((n, T + 1, k, k))  # covariance of the noise part
    Ppow = np.zeros((n, T + 1, k, k))
    D[:, 0] = cf.init[:, 0] + cf.init[:, 1:] @ cf.prim_mean
    Gp[:, :, 0] = (cf.init[:, 1:] * np.sqrt(cf.prim_var)).T
    Ppow[:, 0] = np.eye(k)
    for t in range(T):
        D[:, t + 1] = np.einsum("nij,nj->ni", P, D[:, t]) + f
        Gp[:, :, t + 1] = np.einsum("nij,npj->npi", P, Gp[:, :, t])
        Sn[:, t + 1] = P @ Sn[:, t] @ np.swapaxes(P, 1, 2) + Q
        Ppow[:, t + 1] = P @ Ppow[:, t]
    if not (within_scale(D) and within_scale(Sn)):
        step = int(np.argmax(~(np.abs(D) < MAX_MAGNITUDE).all(axis=(0, 2))))
        raise diagnose(cf.model, step, [("the mean", D[:, step]), ("the second moments", Sn[:, step])], hint=UNSTABLE)
    mean = np.einsum("n,nti->ti", w, D)
    second = (
        np.einsum("n,nti,ntj->tij", w, D, D)
        + np.einsum("n,npti,nptj->tij", w, Gp, Gp)
        + np.einsum("n,ntij->tij", w, Sn)
    )
    R = np.zeros((T + 1, T + 1))
    C = np.zeros((T + 1, T + 1))
    det = D[:, :, 0]  # the weight's deterministic and initial parts
    init_part = np.einsum("n,nps,npt->st", w, Gp[:, :, :, 0], Gp[:, :, :, 0])
    C_det = np.einsum("n,ns,nt->st", w, det, det) + init_part
    for lag in range(T + 1):
        s = np.arange(T + 1 - lag)
        R[s + lag, s] = w @ Ppow[:, lag, 0, 0]
        # noise part of E[x(s+lag) x(s)] = [P^lag Sn(s)]_00
        noise = np.einsum("n,nm,nsm->s", w, Ppow[:, lag, 0, :], Sn[:, s][..., 0])
        C[s + lag, s] = C_det[s + lag, s] + noise
        C[s, s + lag] = C[s + lag, s]
    return {"mean": mean, "second": second, "C": C, "R": R}


def mode_map(cf: Coefficients, lam: np.ndarray, dt: float | None, euler: bool = False) -> np.ndarray:
    """P(λ) (n, k, k): one step of the eigen-direction of each eigenvalue (complex allowed)."""
    if cf.rates is None or euler:
        return cf.A[None] + lam[:, None, None] * np.outer(cf.b, cf.c_theta)[None]
    L, ell = cf.rates[:2]
    return expm(dt * (L[None] + lam[:, None, None] * np.outer(ell, cf.c_theta)[None]))


def spectral_response(
    cf: Coefficients, nodes: np.ndarray, weights: np.ndarray, T: int, dt: float | None, euler: bool = False
) -> np.ndarray:
    """R(t, t - lag) for lag = 0..T: Σ_j w_j [P(λ_j)^lag]_xx. With a quadrature of ρ this is the
    spectral response (for Ginibre, the value at λ = 0); with the N eigenvalues of one matrix
    and weights 1/N it is (1/N) Tr [𝒫^lag]_xx of that matrix, normal or not."""
    P = mode_map(cf, nodes, dt, euler)
    out = np.zeros(T + 1)
    power = np.broadcast_to(np.eye(P.shape[1]), P.shape).astype(P.dtype)
    for lag in range(T + 1):
        out[lag] = np.real(weights @ power[:, 0, 0])
        power = P @ power
    return out


# ------------------------------------------------------------------------------------ solve


def choose_method(d: LinearDerivation, method: str) -> str:
    ensemble = d.law.ensemble
    if ensemble in SIMULATED_ONLY:
        raise SolverError(
            f"{ensemble}() has neither a DMFT closure nor a spectral law in dmftc yet (its "
            "spectrum is the free product of two Marchenko–Pastur laws)",
            kind="not-available",
            hint="'dmftc simulate' runs it",
        )
    if method == "auto":
        return "dmft" if ensemble in DMFT_ENSEMBLES else "spectral"
    if method == "dmft" and ensemble not in DMFT_ENSEMBLES:
        raise SolverError(
            "the DMFT closure of spectrum() is not available: the cavity memory of a general "
            "rotation-invariant matrix is a series in its free cumulants",
            kind="not-available",
            hint="use --method spectral (exact for a normal matrix)",
        )
    if method == "spectral" and not d.law.normal:
        raise SolverError(
            "the spectral solver needs a normal matrix: C(t, t') of a Ginibre matrix depends "
            "on its eigenvectors, not only on its eigenvalues (docs/math/linear_system.md §2)",
            kind="not-available",
            hint="use --method dmft",
        )
    return method


def _observables(d: LinearDerivation, cf: Coefficients, params: dict, mean, second) -> dict:
    """Each observable at every step from E[z] and E[z zᵀ]."""
    aggregates = [a for o in d.model.observables for a in o.aggregates]
    values = {a.symbol: c + mean @ l + np.einsum("ij,tij->t", Q, second) for a, (Q, l, c) in zip(aggregates, cf.forms)}
    return evaluate_observables(d.model, params, values, mean.shape[0])


def evaluate_observables(model, params: dict, aggregates: dict, length: int) -> dict:
    """Observables (arithmetic of mean() aggregates and parameters) from the aggregates' values
    (symbol -> array over steps). The expressions are dmftc's own sympy trees, printed by
    lambdify like every generated function."""
    values = {p.symbol: params[p.name] for p in model.params}
    out = {}
    for o in model.observables:
        symbols = [a.symbol for a in o.aggregates]
        f = sp.lambdify(symbols, o.expr.subs(values), modules="numpy")
        out[o.name] = np.broadcast_to(np.asarray(f(*(aggregates[s] for s in symbols)), dtype=float), (length,)).copy()
    return out


def solve(compiled, params: dict, options: dict, progress=None):
    """``options`` (resolved by :mod:`dmftc.options`): steps, dt, method, average_over, euler."""
    return solve_linear_system(compiled.derivation, params, timings=compiled.timings, **options)


def solve_linear_system(
    d: LinearDerivation,
    params: dict,
    *,
    steps: int = 50,
    dt: float | None = None,
    method: str = "auto",
    average_over=None,
    euler: bool = False,
    timings: dict | None = None,
):
    """Solve a linear_system model; returns an ``xarray.Dataset`` (observables, ``C``, ``R``)."""
    model = d.model
    method = choose_method(d, method)
    sources = parse_sources(average_over, SOURCES)
    if sources and method != "dmft":
        raise SolverError("--average-over needs the DMFT closure (--method dmft)", kind="bad-option")
    started = time.perf_counter()
    cf = coefficients(d, params, dt)
    with threadpool_limits(limits=1, user_api="blas"):  # small products: one thread is fastest
        observables, C, R = _solve(d, cf, params, steps, dt, method, sources, euler)
    finished = time.perf_counter()
    log.info("%s: %s solve of %d steps in %.2f s", model.name, method, steps, finished - started)
    settings = {
        "steps": steps,
        "dt": dt,
        "method": method + (" (euler)" if euler and method == "spectral" else ""),
        "average_over": ",".join(sources) or None,
    }
    attrs = run_attributes(
        kind="dmft",
        model=model,
        params=params,
        settings=settings,
        timings=dict(timings or {}) | {"run": finished - started},
    )
    time_step = dt if model.time == "continuous" else 1.0
    return make_dataset(observables, np.arange(steps + 1) * time_step, two_time={"C": C, "R": R}, attrs=attrs)


def _solve(d, cf, params, steps, dt, method, sources, euler) -> tuple[dict, np.ndarray, np.ndarray]:
    """Observables (with ``_bias``, ``_variance``), C and R by the chosen method."""
    model = d.model
    if method == "dmft":
        run = dmft_pass(cf, steps)
        basis = run["basis"]
        G = _gram(basis, _second_moments(cf, True), run["field"], 1.0)
        mean, second = _moments(cf, run["Z"], G, basis)
        X = run["Z"][:, 0]
        C = X @ G(X).T
        R = np.tril(X[:, basis.kick : basis.kick + steps + 1])
    else:
        longest = steps * (dt if dt is not None else 1.0)
        rule = spectra.quadrature(d.law, {p.symbol: params[p.name] for p in model.params}, 2 * longest)
        out = spectral_pass(cf, rule, steps, dt, euler)
        mean, second, C, R = out["mean"], out["second"], out["C"], out["R"]
    observables = _observables(d, cf, params, mean, second)
    for name, values in observables.items():
        if not within_scale(values):
            step = int(np.argmax(~(np.abs(values) < MAX_MAGNITUDE)))
            raise diagnose(model, step, [(f"the observable {name}", values[step])], hint=UNSTABLE)
    if sources:
        observables |= split(observables, _observables(d, cf, params, *cross_moments(cf, run, sources)))
    return observables, C, R
