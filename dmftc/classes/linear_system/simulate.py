"""The finite-size system of a ``linear_system`` model: an N x N matrix per run.

Each run draws M from the model's ensemble (goe: (G + Gᵀ) sqrt(var / 2N); ginibre:
G sqrt(var / N); wishart: ΨᵀΨ / P with P = round(ratio N); spectrum: O diag(λ) Oᵀ with O Haar
and λ at the N quantiles (i + 1/2)/N of the eigenvalue law; rf_drive: the product F S of two
independent Wishart matrices of ratios features and samples, rf_drive_hermitian: F^(1/2) S F^(1/2),
which has the same eigenvalues), the initial values and the noise,
and runs the whole state z (k N numbers: the weight, then the states) through the exact
one-step map: ``z' = 𝒜 z + const + noise``, with ``𝒜 = A ⊗ I + (b c_θᵀ) ⊗ M`` for an update and
``exp(dt 𝓛)`` with ``𝓛 = L ⊗ I + (ℓ c_θᵀ) ⊗ M`` for a flow (the drive and the noise covariance
of a step from the same exponential, Van Loan's method). So a flow is simulated exactly in
time, and the comparison with the DMFT pass (Euler steps) carries an O(dt) difference.

Outputs: observables (means over runs, ``<name>_sem``), the two-time ``C(t,s) = x(t)·x(s)/N``
and ``R(t,s) = (1/N) Tr [𝒫^(t-s)]_xx`` (the kick response, from the eigenvalues of the one-step
map 𝒫), averaged over runs.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import sympy as sp
from scipy.linalg import expm
from scipy.stats import norm
from threadpoolctl import threadpool_limits

from dmftc.classes.linear_system.derive import LinearDerivation
from dmftc.classes.linear_system.solve import (
    UNSTABLE,
    Coefficients,
    coefficients,
    evaluate_observables,
    spectral_response,
)
from dmftc.results.dataset import make_dataset, mean_and_sem, run_attributes
from dmftc.runtime.random import primitives
from dmftc.runtime.stepping import MAX_MAGNITUDE, advance, diagnose, progress_task, within_scale

log = logging.getLogger("dmftc")


def draw_matrix(law, params: dict[sp.Symbol, float], N: int, rng: np.random.Generator) -> np.ndarray:
    """One N x N matrix of the ensemble ``law`` (module docstring)."""
    if law.ensemble == "goe":
        G = rng.standard_normal((N, N))
        return (G + G.T) * np.sqrt(float(law.args["var"].subs(params)) / (2 * N))
    if law.ensemble == "ginibre":
        return rng.standard_normal((N, N)) * np.sqrt(float(law.args["var"].subs(params)) / N)
    if law.ensemble == "wishart":
        return _wishart(float(law.args["ratio"].subs(params)), N, rng)
    if law.ensemble in ("rf_drive", "rf_drive_hermitian"):
        features = _wishart(float(law.args["features"].subs(params)), N, rng)
        samples = _wishart(float(law.args["samples"].subs(params)), N, rng)
        if law.ensemble == "rf_drive":
            return features @ samples
        values, vectors = np.linalg.eigh(features)
        root = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
        return root @ samples @ root  # similar to features @ samples: the same eigenvalues
    O, r = np.linalg.qr(rng.standard_normal((N, N)))
    O *= np.sign(np.diag(r))  # Haar
    return (O * eigenvalue_quantiles(law, params, N)) @ O.T


def _wishart(ratio: float, N: int, rng: np.random.Generator) -> np.ndarray:
    """Ψᵀ Ψ / P with Ψ in R^(P x N) i.i.d. N(0, 1), P = round(ratio N)."""
    P = max(1, round(ratio * N))
    psi = rng.standard_normal((P, N))
    return psi.T @ psi / P


def eigenvalue_quantiles(law, params, N: int) -> np.ndarray:
    e = law.eigenvalues
    u = (np.arange(N) + 0.5) / N
    if e.kind == "atoms":
        atoms = np.array([float(a.subs(params)) for a in e.atoms])
        base = atoms[np.minimum((u * atoms.size).astype(int), atoms.size - 1)]
    elif e.kind == "rademacher":
        base = np.where(u < 0.5, -1.0, 1.0)
    elif e.kind == "uniform":
        base = u
    else:
        base = norm.ppf(u)
    return float(e.shift.subs(params)) + float(e.scale.subs(params)) * base


def one_step(cf: Coefficients, M: np.ndarray, dt: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The map of one step on the whole state: matrix, constant, and a square root of the
    noise covariance (None without noise)."""
    N = M.shape[0]
    I = np.eye(N)
    ones_image = M.sum(axis=1)  # M 1
    if cf.rates is None:
        P = np.kron(cf.A, I) + np.kron(np.outer(cf.b, cf.c_theta), M)
        const = np.kron(cf.c, np.ones(N)) + np.kron(cf.b * cf.c0, ones_image)
        noise = np.kron(cf.S, I) if cf.S.shape[1] else None
        return P, const, noise
    L, ell, c_rate, S_rate = cf.rates
    gen = np.kron(L, I) + np.kron(np.outer(ell, cf.c_theta), M)
    n = gen.shape[0]
    aug = np.zeros((n + 1, n + 1))
    aug[:n, :n] = gen
    aug[:n, n] = np.kron(c_rate, np.ones(N)) + np.kron(ell * cf.c0, ones_image)
    E = expm(aug * dt)
    P, const = E[:n, :n], E[:n, n]
    if not S_rate.shape[1] or not np.any(S_rate):
        return P, const, None
    diffusion = np.kron(S_rate @ S_rate.T, I)
    van = np.zeros((2 * n, 2 * n))
    van[:n, :n], van[:n, n:], van[n:, n:] = -gen, diffusion, gen.T
    V = expm(van * dt)
    Q = V[n:, n:].T @ V[:n, n:]
    values, vectors = np.linalg.eigh((Q + Q.T) / 2)
    return P, const, vectors * np.sqrt(np.clip(values, 0, None))


def kick_response(cf: Coefficients, M: np.ndarray, symmetric: bool, T: int, dt: float | None) -> np.ndarray:
    """(1/N) Tr [𝒫^lag]_xx for lag = 0..T: the one-step map decouples along the eigenvectors of a
    diagonalisable M (normal or not) into the k x k maps P(λ_i), so the trace is a sum over the
    eigenvalues of M."""
    lam = np.linalg.eigvalsh(M) if symmetric else np.linalg.eigvals(M)
    return spectral_response(cf, lam, np.full(lam.size, 1 / lam.size), T, dt)


def simulate(compiled, params: dict, options: dict, progress=None):
    """``options`` (resolved by :mod:`dmftc.options`): dim, runs, steps, seed, dt."""
    return simulate_linear_system(compiled.derivation, params, progress=progress, **options)


def simulate_linear_system(
    d: LinearDerivation,
    params: dict,
    *,
    dim: int = 1000,
    runs: int = 10,
    steps: int = 50,
    seed: int = 0,
    dt: float | None = None,
    progress=None,
):
    model = d.model
    cf = coefficients(d, params, dt)
    task = progress_task(progress, f"simulating {model.name} (N = {dim})", runs)
    started = time.perf_counter()
    obs_runs, C_runs, R_runs = [], [], []
    with threadpool_limits(limits=1, user_api="blas"):  # one BLAS thread: the machine is shared
        for run in range(runs):
            observed, C, R = _one_run(d, cf, params, np.random.default_rng([seed, run]), dim, steps, dt, run)
            obs_runs.append([observed[o.name] for o in model.observables])
            C_runs.append(C)
            R_runs.append(R)
            advance(progress, task, run + 1)
    finished = time.perf_counter()
    log.info("%s: %d runs at N = %d in %.2f s", model.name, runs, dim, finished - started)
    stacked = np.array(obs_runs)  # (runs, observables, steps + 1)
    mean, sem = mean_and_sem(stacked)
    names = [o.name for o in model.observables]
    attrs = run_attributes(
        kind="simulation",
        model=model,
        params=params,
        settings={"steps": steps, "dim": dim, "runs": runs, "seed": seed, "dt": dt},
        timings={"run": finished - started},
    )
    time_step = dt if model.time == "continuous" else 1.0
    return make_dataset(
        dict(zip(names, mean)),
        np.arange(steps + 1) * time_step,
        sem=dict(zip(names, sem)),
        two_time={"C": np.mean(C_runs, axis=0), "R": np.mean(R_runs, axis=0)},
        attrs=attrs,
    )


def _one_run(
    d: LinearDerivation,
    cf: Coefficients,
    params: dict,
    rng: np.random.Generator,
    N: int,
    steps: int,
    dt: float | None,
    run: int,
):
    """Observables, C and R of one system."""
    model = d.model
    symbols = {p.symbol: params[p.name] for p in model.params}
    k = cf.A.shape[0]
    M = draw_matrix(d.law, symbols, N, rng)
    P, const, noise = one_step(cf, M, dt)
    prims = primitives(rng, tuple(p.law for p in model.primitives), N, antithetic=False)
    Z = np.empty((steps + 1, k * N))
    Z[0] = (cf.init[:, :1] + cf.init[:, 1:] @ prims.T).ravel()
    for t in range(steps):
        Z[t + 1] = P @ Z[t] + const
        if noise is not None:
            Z[t + 1] += noise @ rng.standard_normal(noise.shape[1])
    if not within_scale(Z):
        bad = int(np.argmax(~(np.abs(Z) < MAX_MAGNITUDE).all(axis=1)))
        raise diagnose(model, bad, [(f"the state (simulation, run {run})", Z[bad])], hint=UNSTABLE)
    blocks = Z.reshape(steps + 1, k, N)
    aggregates = [a for o in model.observables for a in o.aggregates]
    values = {
        a.symbol: c + np.einsum("i,tin->t", l, blocks) / N + np.einsum("ij,tin,tjn->t", Q, blocks, blocks) / N
        for a, (Q, l, c) in zip(aggregates, cf.forms)
    }
    X = blocks[:, 0]
    response = kick_response(cf, M, d.law.normal, steps, dt)
    lags = np.subtract.outer(np.arange(steps + 1), np.arange(steps + 1))
    R = np.where(lags >= 0, response[np.clip(lags, 0, None)], 0.0)
    return evaluate_observables(model, params, values, steps + 1), X @ X.T / N, R
