"""The finite-size system of a gaussian_data model, run by the same generated module.

Each run draws a data matrix X (n = ratio * d rows, entries N(0, 1/d)), the teacher, labels,
initial values, batches and noises, and runs the optimizer on the real gradient. Observables
are averaged over runs, with their standard errors (``<name>_sem``).
"""

from __future__ import annotations

import logging
import time

import numpy as np
from threadpoolctl import threadpool_limits

from dmftc.classes.gaussian_data.derive import DataDerivation
from dmftc.errors import SolverError
from dmftc.codegen.jit import load_module
from dmftc.results.dataset import make_dataset, run_attributes
from dmftc.classes.gaussian_data.solve import (DEFAULT_FLOW_DT, clusters, data_constants, primitives, quadrature_rule, runtime_values,
                    selection_weights)

log = logging.getLogger("dmftc")


def simulate_gaussian_data(derivation: DataDerivation, params: dict, *, dim: int = 1000, runs: int = 10,
                           steps: int | None = None, seed: int = 0, dt: float | None = None, progress=None):
    model = derivation.model
    steps = 50 if steps is None else steps
    if model.time == "continuous":
        dt = DEFAULT_FLOW_DT if dt is None else dt
    elif dt is not None:
        raise SolverError("--dt is for flow: models; this model has a discrete update", kind="bad-option")
    started = time.perf_counter()
    source, plan = derivation.generated
    module = load_module(source)
    values = runtime_values(derivation, plan, params, dt)
    data = data_constants(derivation, params)
    n = max(1, round(data.alpha * dim))
    nodes, weights = quadrature_rule(plan.uses_eps, plan.test_smooth)
    task = progress.add_task(f"simulating {model.name} (d = {dim})", total=runs) if progress else None

    def one_run(run: int, dim: int, n: int) -> np.ndarray:
        rng = np.random.default_rng([seed, run])
        X = rng.standard_normal((n, dim)) * np.sqrt(data.delta / dim)
        CLUSTER = clusters(rng, data.rho, n, antithetic=False) if plan.mixture else np.zeros(n)
        PRIM = primitives(rng, plan.primitive_laws, dim, antithetic=False)
        EPS = rng.standard_normal(n)
        SEL = selection_weights(model, params, steps, n, rng, dt)
        NOISE = rng.standard_normal((steps + 1, dim, plan.n_noise))
        OBS = np.zeros((steps + 1, len(plan.observables)))
        status = module.simulate_run(X, CLUSTER, PRIM, EPS, SEL, NOISE, data.delta, data.rho, nodes, weights,
                                     values, steps, OBS)
        if status >= 0:
            raise SolverError(f"the simulation of {model.name} diverges: values stop being finite at "
                              f"step {status} (run {run})", kind="diverged",
                              hint="the learning rate is probably too large for this problem")
        return OBS

    with threadpool_limits(limits=1, user_api="blas"):
        one_run(0, 4, max(1, round(data.alpha * 4)))  # compile on a tiny system
        compiled = time.perf_counter()
        results = []
        for run in range(runs):
            results.append(one_run(run, dim, n))
            if task is not None:
                progress.update(task, completed=run + 1)
    finished = time.perf_counter()
    log.info("%s: compile %.2f s, %d runs at d = %d in %.2f s", source.filename, compiled - started,
             runs, dim, finished - compiled)

    stacked = np.stack(results)  # (runs, steps + 1, observables)
    mean = stacked.mean(axis=0)
    sem = stacked.std(axis=0, ddof=1) / np.sqrt(runs) if runs > 1 else np.full_like(mean, np.nan)
    observables = {name: mean[:, j] for j, name in enumerate(plan.observables)}
    sems = {name: sem[:, j] for j, name in enumerate(plan.observables)}
    time_step = dt if model.time == "continuous" else 1.0
    attrs = run_attributes(
        kind="simulation", model_name=model.name, model_path=model.path, model_source=model.source,
        params=params, settings={"steps": steps, "dim": dim, "samples_n": n, "runs": runs, "seed": seed, "dt": dt},
        timings={"compile": compiled - started, "run": finished - compiled})
    return make_dataset(observables, np.arange(steps + 1) * time_step, sem=sems, attrs=attrs)
