"""The finite-size system of a matrix program: the same per-site functions as the DMFT solver
(the generated module), with the matrices drawn and the products computed.

Space ``a`` has ``N_a = round(ratio_a · dim)`` sites. A rectangular ``A[rows, cols]`` has i.i.d.
entries N(0, var / N_cols); a square one is ``sqrt(var / N) (α G + β Gᵀ)`` with G i.i.d. N(0, 1)
and ``α² + β² = 1``, ``2αβ = corr``, so that ``E A_ij² = var / N`` and ``E A_ij A_ji = corr var / N``
off the diagonal (docs/math/matrix_program.md §1); a ``fresh`` matrix is drawn anew at every
step; a trained matrix grows by c u vᵀ / N_cols where its update stands in the step
(§2.1). Observables are means over the sites and over the runs (``<name>_sem`` across runs);
``C_<coordinate>(t, s)`` is the site average of z(t) z(s).
"""

from __future__ import annotations

import logging
import time

import numpy as np
import sympy as sp
from threadpoolctl import threadpool_limits

from dmftc.classes.matrix_program import program
from dmftc.results.dataset import make_dataset, mean_and_sem, run_attributes
from dmftc.runtime.stepping import advance, diagnose, progress_task, within_scale

log = logging.getLogger("dmftc")


def space_sizes(spec, params: dict[sp.Symbol, float], dim: int) -> dict[str, int]:
    return {s.name: max(1, round(float(s.ratio.subs(params)) * dim)) for s in spec.spaces}


def draw(matrix, sizes: dict[str, int], params: dict[sp.Symbol, float], rng: np.random.Generator) -> np.ndarray:
    """One matrix of the program at finite size (module docstring)."""
    rows, cols = sizes[matrix.rows], sizes[matrix.cols]
    scale = np.sqrt(float(matrix.var.subs(params)) / cols)
    G = rng.standard_normal((rows, cols))
    if not matrix.square:
        return scale * G
    corr = float(matrix.corr.subs(params))
    alpha = (np.sqrt(1 + corr) + np.sqrt(1 - corr)) / 2
    beta = (np.sqrt(1 + corr) - np.sqrt(1 - corr)) / 2
    return scale * (alpha * G + beta * G.T)


def simulate(compiled, params: dict, options: dict, progress=None):
    """``options`` (resolved by :mod:`dmftc.options`): dim, runs, steps, seed, dt."""
    d, model = compiled.derivation, compiled.model
    _, plan = compiled.generated
    steps, runs, seed, dim = options["steps"], options["runs"], options["seed"], options["dim"]
    values, dt = program.runtime_values(plan, params, model, options["dt"])
    symbols = {p.symbol: params[p.name] for p in model.params}
    sizes = space_sizes(d.spec, symbols, dim)
    task = progress_task(progress, f"simulating {model.name} (N = {dim})", runs)
    started = time.perf_counter()
    module = compiled.first_call(lambda m: m)
    observed, correlations = [], []
    with threadpool_limits(limits=1, user_api="blas"):  # one BLAS thread: the machine is shared
        for run in range(runs):
            obs, C = _one_run(module, d, plan, values, symbols, sizes, steps, np.random.default_rng([seed, run]), run)
            observed.append(obs)
            correlations.append(C)
            advance(progress, task, run + 1)
    finished = time.perf_counter()
    log.info("%s: %d runs at N = %d in %.2f s", model.name, runs, dim, finished - started)
    stacked = np.array(observed)  # (runs, steps + 1, observables)
    mean, sem = mean_and_sem(stacked)
    attrs = run_attributes(
        kind="simulation",
        model=model,
        params=params,
        settings={"steps": steps, "dim": dim, "runs": runs, "seed": seed, "dt": dt}
        | {f"size_{name}": size for name, size in sizes.items()},
        timings={"run": finished - started},
    )
    two_time = {f"C_{name}": np.mean([C[name] for C in correlations], axis=0) for name in correlations[0]}
    return make_dataset(
        {name: mean[:, j] for j, name in enumerate(plan.observables)},
        np.arange(steps + 1) * (dt or 1.0),
        sem={name: sem[:, j] for j, name in enumerate(plan.observables)},
        two_time=two_time,
        attrs=attrs,
    )


def _one_run(module, d, plan, values, symbols, sizes, steps, rng, run):
    spec, model = d.spec, d.model
    matrices = {m.name: draw(m, sizes, symbols, rng) for m in spec.matrices}
    states = {s.name: program.start(module, s, values, sizes[s.name], rng, antithetic=False) for s in plan.spaces}
    columns = {k: program.column(plan, k) for k in range(len(spec.uses))}
    training = program.trainings_at(spec)

    def train(k: int, t: int) -> None:  # the training terms placed before use k
        for term in training.get(k, ()):
            m = term.matrix
            u = program.factor(module, term.u, states[m.rows], t, values)
            v = program.factor(module, term.v, states[m.cols], t, values)
            matrices[m.name] += term.value(model, values, t) / sizes[m.cols] * np.outer(u, v)

    agg = np.zeros(plan.n_aggregates)
    obs = np.zeros((steps + 1, len(plan.observables)))
    for t in range(steps + 1):
        for st in states.values():
            st.E[:] = rng.standard_normal(st.E.shape)
            st.history.append(st.Z.copy())
        if t > 0:  # one-pass data: a fresh matrix is drawn anew at every step
            matrices |= {m.name: draw(m, sizes, symbols, rng) for m in spec.matrices if m.fresh}
        for k, use in enumerate(spec.uses):
            train(k, t)
            if use.frozen and t > 0:
                continue
            src = states[use.src]
            x = np.zeros(src.size)
            getattr(module, f"source_{k + 1}")(t, values, src.Z, src.K, src.H, src.E, x, _NONE2, _NONE2, False)
            A = matrices[use.matrix]
            states[use.tgt].H[:, columns[k]] = A.T @ x if use.transpose else A @ x
            if not within_scale(states[use.tgt].H[:, columns[k]]):
                raise diagnose(model, t, [(f"use {k + 1}, {use.text} (simulation, run {run})", states[use.tgt].H)])
        train(len(spec.uses), t)
        program.observe(module, plan, states, t, values, agg)
        obs[t] = program.combine(module, plan, agg, values)
        if t == steps:
            break
        for st in states.values():
            Znew = np.zeros_like(st.Z)
            getattr(module, f"step_{st.plan.name}")(t, values, st.Z, st.K, st.H, st.E, Znew, _NONE3, _NONE3, False)
            if not within_scale(Znew):
                raise diagnose(
                    model, t + 1, [(f"the coordinates of space {st.plan.name} (simulation, run {run})", Znew)]
                )
            st.Z = Znew
    correlations = {}
    for st in states.values():
        history = np.array(st.history)  # (steps + 1, sites, coordinates)
        for j, name in enumerate(st.plan.coordinates):
            correlations[name] = history[:, :, j] @ history[:, :, j].T / st.size
    return obs, correlations


# placeholders for the derivative arrays when the Jacobian is not wanted (jac=False)
_NONE2 = np.zeros((1, 1))
_NONE3 = np.zeros((1, 1, 1))
