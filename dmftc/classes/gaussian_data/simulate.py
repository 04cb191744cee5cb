"""The finite-size system of a gaussian_data model, run by the same generated module.

Each run draws a data matrix X (n = ratio * d rows, entries N(0, 1/d)), the teacher, labels,
initial values, batches and noises, and runs the optimizer on the real gradient. Observables
are averaged over runs, with their standard errors (``<name>_sem``).
"""

from __future__ import annotations

import contextlib
import logging
import time

import numpy as np
from threadpoolctl import threadpool_limits

from dmftc.classes.gaussian_data.solve import (
    clusters,
    data_constants,
    quadrature_rule,
    runtime_values,
    selection_weights,
)
from dmftc.errors import SolverError
from dmftc.results.dataset import make_dataset, mean_and_sem, run_attributes
from dmftc.runtime.random import primitives
from dmftc.runtime.stepping import advance, diagnose, progress_task

log = logging.getLogger("dmftc")


def simulate(compiled, params: dict, options: dict, progress=None):
    """``options``: dim, runs, steps, seed, dt (resolved by :mod:`dmftc.options`)."""
    model = compiled.model
    dim, runs, steps, seed, dt = (options[k] for k in ("dim", "runs", "steps", "seed", "dt"))
    source, plan = compiled.generated
    module = compiled.module
    started = time.perf_counter()
    values = runtime_values(plan, params, dt)
    data = data_constants(model, params)
    n = max(1, round(data.alpha * dim))
    nodes, weights = quadrature_rule(plan.uses_eps, plan.test_smooth)
    task = progress_task(progress, f"simulating {model.name} (d = {dim})", runs)

    def one_run(run: int, dim: int, n: int) -> np.ndarray:
        rng = np.random.default_rng([seed, run])
        X = rng.standard_normal((n, dim)) * np.sqrt(data.delta / dim)
        CLUSTER = clusters(rng.random(n), data.rho) if plan.mixture else np.zeros(n)
        PRIM = primitives(rng, plan.primitive_laws, dim, antithetic=False)
        EPS = rng.standard_normal(n)
        SEL = selection_weights(model, params, steps, n, rng, dt)
        NOISE = rng.standard_normal((steps + 1, dim, plan.n_noise))
        OBS = np.zeros((steps + 1, len(plan.observables)))
        status = plan.entry["simulate_run"].call(
            module,
            X=X,
            CLUSTER=CLUSTER,
            PRIM=PRIM,
            EPS=EPS,
            SEL=SEL,
            NOISE=NOISE,
            delta=data.delta,
            mix_rho=data.rho,
            nodes=nodes,
            weights=weights,
            params=values,
            T=steps,
            OBS=OBS,
        )
        if status >= 0:  # the weights (no observable is computed from them), else an observable
            before = float(np.max(np.abs(OBS[status - 1]))) if status > 0 else 0.0
            grown = np.inf if before > 1e20 else np.nan  # too large, or not finite
            weights_bad = np.full(1, grown) if np.all(np.isfinite(OBS[status])) else np.zeros(1)
            raise diagnose(
                model,
                status,
                [(f"the weights (simulation, run {run})", weights_bad)]
                + [
                    (f"the observable {name} (simulation, run {run})", OBS[status, j])
                    for j, name in enumerate(plan.observables)
                ],
                previous_scale=before,
            )
        return OBS

    def warm_up(fresh):  # compile on a tiny system; a divergence shows in the real runs
        nonlocal module
        module = fresh
        with contextlib.suppress(SolverError):
            one_run(0, 4, max(1, round(data.alpha * 4)))

    with threadpool_limits(limits=1, user_api="blas"):
        compiled.first_call(warm_up)
        compiled_at = time.perf_counter()
        results = []
        for run in range(runs):
            results.append(one_run(run, dim, n))
            advance(progress, task, run + 1)
    finished = time.perf_counter()
    log.info(
        "%s: compile %.2f s, %d runs at d = %d in %.2f s",
        source.filename,
        compiled_at - started,
        runs,
        dim,
        finished - compiled_at,
    )

    stacked = np.stack(results)  # (runs, steps + 1, observables)
    mean, sem = mean_and_sem(stacked)
    observables = {name: mean[:, j] for j, name in enumerate(plan.observables)}
    sems = {name: sem[:, j] for j, name in enumerate(plan.observables)}
    time_step = dt if model.time == "continuous" else 1.0
    attrs = run_attributes(
        kind="simulation",
        model=model,
        params=params,
        settings={"steps": steps, "dim": dim, "samples_n": n, "runs": runs, "seed": seed, "dt": dt},
        timings=compiled.timings
        | {"compile": compiled.timings.get("compile", 0.0) + compiled_at - started, "run": finished - compiled_at},
    )
    return make_dataset(observables, np.arange(steps + 1) * time_step, sem=sems, attrs=attrs)
