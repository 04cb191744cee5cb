"""The finite system of the matrix family: mini-batch SGD of a weight matrix on fresh samples
(docs/math/matrix_sgd.md §4), with the eigenvalues of WᵀW recorded at every step."""

from __future__ import annotations

import logging
import math
import time

import numpy as np
import sympy as sp
from threadpoolctl import threadpool_limits

from dmftc.classes.matrix_sgd.solve import batch_count, matrix_size
from dmftc.language.symbols import EPS, HSTAR, grad_symbol
from dmftc.results.dataset import make_dataset, mean_and_sem, run_attributes
from dmftc.runtime.random import primitives
from dmftc.runtime.stepping import advance, diagnose, progress_task, within_scale

log = logging.getLogger("dmftc")


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
    s = s[quarter : s.size - quarter]
    return s / s.mean()


def unfolded_spacing_s2(eigenvalues: np.ndarray) -> float:
    """<s²> of :func:`unfolded_spacings` (4/π for the Wigner surmise, 2 for Poisson levels)."""
    return float(np.mean(unfolded_spacings(eigenvalues) ** 2))


def simulate(compiled, params: dict, options: dict, progress=None):
    """``options`` (resolved by :mod:`dmftc.options`): runs, steps, seed (N is the model's)."""
    return simulate_matrix_sgd(compiled.model, params, progress=progress, **options)


def simulate_matrix_sgd(model, params: dict, *, runs: int = 4, steps: int = 1000, seed: int = 0, progress=None):
    N, B = matrix_size(model, params), batch_count(model, params)
    values = model.values(params)
    weight, teacher = model.weights[0], model.spec.teacher
    z = [v.symbol for v in model.coordinates]
    grad = grad_symbol(weight.name)
    step = [sp.lambdify(z + [grad], model.step_map[s].subs(values), modules="numpy") for s in z]
    label = sp.lambdify([HSTAR, EPS], model.spec.label.subs(values), modules="numpy")
    loss_grad = sp.lambdify(
        [model.spec.h, model.spec.y], sp.diff(model.spec.loss, model.spec.h).subs(values), modules="numpy"
    )
    aggregates = [a for o in model.observables for a in o.aggregates]
    means = [sp.lambdify(z + [teacher.symbol], a.expr.subs(values), modules="numpy") for a in aggregates]
    combine = [
        sp.lambdify([a.symbol for a in o.aggregates], o.expr.subs(values), modules="numpy") for o in model.observables
    ]
    task = progress_task(progress, f"simulating {model.name} (N = {N}, B = {B})", runs)
    started = time.perf_counter()
    stats, history = [], None
    with threadpool_limits(limits=1, user_api="blas"):
        for run in range(runs):
            rng = np.random.default_rng([seed, run])
            out = _one_run(model, values, rng, N, B, steps, step, label, loss_grad, means, combine)
            stats.append(out[0])
            history = out[1] if history is None else history
            advance(progress, task, run + 1)
    finished = time.perf_counter()
    log.info("%s: %d runs of %d steps at N = %d in %.2f s", model.name, runs, steps, N, finished - started)
    names = ["eigenvalue_mean", "eigenvalue_variance", "spacing_s2"] + [o.name for o in model.observables]
    stacked = np.array(stats)  # (runs, names, steps + 1)
    mean, sem = mean_and_sem(stacked)
    attrs = run_attributes(
        kind="simulation",
        model=model,
        params=params,
        settings={"steps": steps, "dim": N, "batch": B, "runs": runs, "seed": seed},
        timings={"run": finished - started},
    )
    ds = make_dataset(dict(zip(names, mean)), np.arange(steps + 1, dtype=float), sem=dict(zip(names, sem)), attrs=attrs)
    ds["eigenvalues"] = (("step", "index"), history)
    ds["eigenvalues"].attrs["description"] = "eigenvalues of W^T W (first run), ascending"
    return ds


def _one_run(model, values, rng, N, B, steps, step, label, loss_grad, means, combine):
    prims = [p for p in model.primitives]
    teacher_law = sp.lambdify([p.symbol for p in prims], model.spec.teacher.init.subs(values), modules="numpy")
    draws = {p.symbol: primitives(rng, (p.law,), N * N, antithetic=False)[:, 0].reshape(N, N) for p in prims}
    Wstar = np.diag(np.broadcast_to(teacher_law(*(np.diag(draws[p.symbol]) for p in prims)), (N,)).astype(float))
    Z = []
    for v in model.coordinates:
        f = sp.lambdify([p.symbol for p in prims] + [model.spec.teacher.symbol], v.init.subs(values), modules="numpy")
        Z.append(np.broadcast_to(f(*(draws[p.symbol] for p in prims), Wstar), (N, N)).astype(float))
    n_obs = 3 + len(model.observables)
    out = np.empty((n_obs, steps + 1))
    history = np.empty((steps + 1, N))
    for t in range(steps + 1):
        W = Z[0]
        eig = np.linalg.eigvalsh(W.T @ W)
        if not within_scale(eig):
            raise diagnose(model, t, [("the weight matrix W (simulation)", W), ("the eigenvalues of WᵀW", eig)])
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
