"""The matrix family (``data online(dim = N)``): simulation, and the Dyson-Brownian-motion prediction.

A weight matrix W (N x N) is trained by mini-batch SGD on fresh samples of a linear teacher
(shared/research/dmft-dln-rmt.md §c.4): every step draws B inputs x ~ N(0, I_N), labels from the
model's label rule with ``hstar = W* x``, and takes the model's update with the batch-mean
gradient ``∇W = (1/B) Σ_b g_b x_bᵀ`` (``g = ∂ℓ/∂h`` per output). W* is diagonal, its entries from
the teacher's law; W(0) has the per-entry law of ``weights``.

* :func:`simulate_matrix_sgd` records, at every step, the eigenvalues of WᵀW (of the first run,
  variable ``eigenvalues`` over (step, index)) and, averaged over runs, their mean, their
  variance and ``spacing_s2``, the second moment ``<s²>/<s>²`` of the unfolded spacings in the
  bulk (levels mapped through the semicircle law fitted to the step's mean and variance; the
  central half of the spacings), plus the model's ``mean()`` observables.
* :func:`predict_matrix_sgd` (``dmftc solve``) gives the leading order in ``lr`` of SGD near the
  teacher W* = c I, from the diffusion limit of :mod:`dmftc.sde`: the entries of δ = W − W* are
  independent Ornstein–Uhlenbeck processes, ``v(t) = v∞ + (v(0) − v∞) e^{−2κt}`` at ``t = k lr``,
  ``v∞ = lr E[g²] / (2 κ B)``, and the eigenvalues of ``WᵀW = c² + c(δ + δᵀ) + δᵀδ`` form a
  semicircle (Dyson Brownian motion, §c.3) of mean ``c² + N v`` and variance ``2 c² N v``, with the
  Wigner surmise ``<s²> = 4/π`` for the spacings. The next order in lr (multiplicative batch
  noise, the δᵀδ term) raises the variance by a few percent at the §c.4 parameters.
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np
import sympy as sp
from threadpoolctl import threadpool_limits

from dmftc.errors import SolverError
from dmftc.results.dataset import make_dataset, run_attributes
from dmftc.symbolic.sde import derive_sde
from dmftc.classes.gaussian_data.solve import primitives
from dmftc.language.symbols import EPS, HSTAR, grad_symbol

log = logging.getLogger("dmftc")

DEFAULT_STEPS = 1000
SURMISE_S2 = 4 / math.pi  # Wigner surmise (β = 1): P(s) = (π s / 2) exp(-π s² / 4)


def _values(model, params: dict) -> dict:
    return {p.symbol: params[p.name] for p in model.params}


def _size(model, params: dict) -> int:
    value = float(model.data_args["dim"].subs(_values(model, params)))
    if value < 2 or value != round(value):
        raise SolverError(f"the matrix size must be an integer >= 2, got {value:g}", kind="bad-parameter")
    return int(value)


def _batch(model, params: dict) -> int:
    if model.batch is None:
        return 1
    value = float(model.batch.args[0].subs(_values(model, params)))
    if value < 1 or value != round(value):
        raise SolverError(f"the batch size must be a positive integer, got {value:g}", kind="bad-parameter")
    return int(value)


def unfolded_spacings(eigenvalues: np.ndarray) -> np.ndarray:
    """Spacings of the central half of a spectrum unfolded by the semicircle law fitted to its
    mean and variance (radius 2 standard deviations), normalised to mean 1."""
    centre, radius = eigenvalues.mean(), 2 * eigenvalues.std()
    if not radius > 0:  # a degenerate spectrum (W = W* at the start) has no spacings to unfold
        return np.full(1, math.nan)
    x = np.clip((np.sort(eigenvalues) - centre) / radius, -1, 1)
    unfolded = eigenvalues.size * (0.5 + (x * np.sqrt(1 - x**2) + np.arcsin(x)) / np.pi)
    s = np.diff(unfolded)
    quarter = s.size // 4
    s = s[quarter: s.size - quarter]
    return s / s.mean()


def unfolded_spacing_s2(eigenvalues: np.ndarray) -> float:
    """<s²> of :func:`unfolded_spacings` (4/π for the Wigner surmise, 2 for Poisson levels)."""
    return float(np.mean(unfolded_spacings(eigenvalues) ** 2))


def simulate_matrix_sgd(model, params: dict, *, runs: int = 4, steps: int | None = None, seed: int = 0,
                        progress=None):
    steps = DEFAULT_STEPS if steps is None else steps
    N, B = _size(model, params), _batch(model, params)
    values = _values(model, params)
    weight, teacher = model.weights[0], model.teacher
    z = [v.symbol for v in model.coordinates]
    grad = grad_symbol(weight.name)
    step = [sp.lambdify(z + [grad], model.step_map[s].subs(values), modules="numpy") for s in z]
    label = sp.lambdify([HSTAR, EPS], model.label.subs(values), modules="numpy")
    loss_grad = sp.lambdify([model.h, model.y], sp.diff(model.loss, model.h).subs(values), modules="numpy")
    aggregates = [a for o in model.observables for a in o.aggregates]
    means = [sp.lambdify(z + [teacher.symbol], a.expr.subs(values), modules="numpy") for a in aggregates]
    combine = [sp.lambdify([a.symbol for a in o.aggregates], o.expr.subs(values), modules="numpy")
               for o in model.observables]
    task = progress.add_task(f"simulating {model.name} (N = {N}, B = {B})", total=runs) if progress else None
    started = time.perf_counter()
    stats, history = [], None
    with threadpool_limits(limits=1, user_api="blas"):
        for run in range(runs):
            rng = np.random.default_rng([seed, run])
            out = _one_run(model, values, rng, N, B, steps, step, label, loss_grad, means, combine)
            stats.append(out[0])
            history = out[1] if history is None else history
            if task is not None:
                progress.update(task, completed=run + 1)
    finished = time.perf_counter()
    log.info("%s: %d runs of %d steps at N = %d in %.2f s", model.name, runs, steps, N, finished - started)
    names = ["eigenvalue_mean", "eigenvalue_variance", "spacing_s2"] + [o.name for o in model.observables]
    stacked = np.array(stats)  # (runs, names, steps + 1)
    mean = stacked.mean(axis=0)
    sem = stacked.std(axis=0, ddof=1) / np.sqrt(runs) if runs > 1 else np.full_like(mean, np.nan)
    attrs = run_attributes(kind="simulation", model_name=model.name, model_path=model.path, model_source=model.source,
                           params=params, settings={"steps": steps, "dim": N, "batch": B, "runs": runs, "seed": seed},
                           timings={"run": finished - started})
    ds = make_dataset(dict(zip(names, mean)), np.arange(steps + 1, dtype=float), sem=dict(zip(names, sem)), attrs=attrs)
    ds["eigenvalues"] = (("step", "index"), history)
    ds["eigenvalues"].attrs["description"] = "eigenvalues of W^T W (first run), ascending"
    return ds


def _one_run(model, values, rng, N, B, steps, step, label, loss_grad, means, combine):
    prims = [p for p in model.primitives]
    teacher_law = sp.lambdify([p.symbol for p in prims], model.teacher.init.subs(values), modules="numpy")
    draws = {p.symbol: primitives(rng, (p.law,), N * N, antithetic=False)[:, 0].reshape(N, N) for p in prims}
    Wstar = np.diag(np.broadcast_to(teacher_law(*(np.diag(draws[p.symbol]) for p in prims)), (N,)).astype(float))
    Z = []
    for v in model.coordinates:
        f = sp.lambdify([p.symbol for p in prims] + [model.teacher.symbol], v.init.subs(values), modules="numpy")
        Z.append(np.broadcast_to(f(*(draws[p.symbol] for p in prims), Wstar), (N, N)).astype(float))
    n_obs = 3 + len(model.observables)
    out = np.empty((n_obs, steps + 1))
    history = np.empty((steps + 1, N))
    for t in range(steps + 1):
        W = Z[0]
        eig = np.linalg.eigvalsh(W.T @ W)
        if not np.all(np.isfinite(eig)):
            raise SolverError(f"the simulation of {model.name} diverges at step {t}", kind="diverged",
                              hint="the learning rate is probably too large")
        history[t] = eig
        out[0, t], out[1, t], out[2, t] = eig.mean(), eig.var(), unfolded_spacing_s2(eig)
        aggregate = iter([float(np.mean(f(*Z, Wstar))) for f in means])
        out[3:, t] = [f(*(next(aggregate) for _ in o.aggregates)) for f, o in zip(combine, model.observables)]
        if t == steps:
            break
        X = rng.standard_normal((B, N))
        Y = label(X @ Wstar.T, rng.standard_normal((B, N)))
        G = np.broadcast_to(loss_grad(X @ W.T, Y), (B, N))
        gradient = G.T @ X / B
        Z = [np.broadcast_to(f(*Z, gradient), (N, N)).astype(float) for f in step]
    return out, history


# ---------------------------------------------------------------------------------- prediction


def predict_matrix_sgd(model, params: dict, *, steps: int | None = None):
    """The leading-order Dyson-Brownian-motion prediction (module docstring) as a dataset."""
    steps = DEFAULT_STEPS if steps is None else steps
    values = _values(model, params)
    N, B = _size(model, params), _batch(model, params)
    sde = derive_sde(model)
    W, Wstar = model.weights[0].symbol, model.teacher.symbol
    c = model.teacher.init
    offset = sp.expand(model.weights[0].init - Wstar)
    prims = [p.symbol for p in model.primitives]
    problems = []
    if sde.stationary_variance is None:
        problems.append("the update is not W - lr grad(W) or the label noise is not additive")
    if c.free_symbols & set(prims):
        problems.append("the teacher is not c I (its law is random)")
    if offset.has(Wstar) or not all(sp.diff(offset, p, 2) == 0 for p in prims):
        problems.append("W(0) - W* is not an affine map of independent inputs")
    if problems:
        raise SolverError("the DBM prediction needs SGD near a teacher W* = c I: " + "; ".join(problems),
                          kind="not-available", hint="'dmftc simulate' runs the model")
    laws = {p.symbol: p for p in model.primitives}
    mean0 = float(offset.subs({p: laws[p].mean for p in prims}).subs(values))
    if abs(mean0) > 0:
        raise SolverError("the DBM prediction needs W(0) - W* centred", kind="not-available")
    v0 = float(sum(sp.diff(offset, p) ** 2 * (laws[p].second_moment - laws[p].mean ** 2) for p in prims).subs(values)) \
        if prims else 0.0
    rate = float(sp.diff(sp.diff(model.loss, model.h), model.h).subs(values))
    v_inf = float(sde.stationary_variance.subs(values).subs(sde.batch_size, B))
    lr = params["lr"]
    t = np.arange(steps + 1) * lr
    v = v_inf + (v0 - v_inf) * np.exp(-2 * rate * t)
    c2 = float(c.subs(values)) ** 2
    observables = {"eigenvalue_mean": c2 + N * v, "eigenvalue_variance": 2 * c2 * N * v,
                   "spacing_s2": np.full(steps + 1, SURMISE_S2)}
    observables |= _gaussian_entry_means(model, values, W, Wstar, float(c.subs(values)), N, v)
    attrs = run_attributes(kind="theory", model_name=model.name, model_path=model.path, model_source=model.source,
                           params=params, settings={"steps": steps, "method": "dbm (leading order in lr)",
                                                    "stationary_entry_variance": v_inf},
                           timings={})
    return make_dataset(observables, np.arange(steps + 1, dtype=float), attrs=attrs)


def _gaussian_entry_means(model, values, W, Wstar, c: float, N: int, v: np.ndarray) -> dict:
    """mean() observables with W = W* + sqrt(v) ξ entrywise, ξ ~ N(0, 1); W* = c on the
    diagonal (a fraction 1/N of the entries), 0 elsewhere."""
    xi, var = sp.Symbol("ξ"), sp.Symbol("v", nonnegative=True)
    out = {}
    for o in model.observables:
        subs = {}
        for a in o.aggregates:
            e = sp.expand(a.expr.subs(values).subs(W, Wstar + sp.sqrt(var) * xi))
            if not e.is_polynomial(xi):
                raise SolverError(f"observable '{o.name}': the prediction needs mean() of a polynomial in "
                                  f"{W}", kind="not-available")
            poly = sp.Poly(e, xi)
            moment = sum(coef * (0 if k % 2 else sp.factorial2(k - 1) if k else 1) for (k,), coef in poly.terms())
            per_entry = (moment.subs(Wstar, c) + (N - 1) * moment.subs(Wstar, 0)) / N
            subs[a.symbol] = per_entry
        f = sp.lambdify([var], o.expr.subs(values).subs(subs), modules="numpy")
        out[o.name] = np.broadcast_to(np.asarray(f(v), dtype=float), v.shape).copy()
    return out
