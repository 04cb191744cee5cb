"""The finite-size system of a gaussian_field model: dense Gaussian couplings, the same update.

For ``xi(q) = Σ_k c_k q^k`` each power gets its own independent tensor of i.i.d. N(0, 1) entries
``J_k``, ``H_k(x) = sqrt(c_k N) J_k[x, ..., x] / N^(k/2)``, so that exactly
``E[H(x) H(x')] = N xi(x.x'/N)`` (docs/language.md §4); the tensors are symmetrised once per run,
which leaves ``H`` unchanged and makes the gradient one contraction. Powers 0 to 3 are
supported (a p = 3 tensor at N = 250 holds 1.6e7 entries, 125 MB). The signal, uniform on the
sphere, adds ``-N strength(x.x*/N)``.

Each run draws the couplings, the signal, the initial values and the noises, then repeats the
model's update with the real gradient at the query point and projects a weight ``on sphere``
back to ``|x|^2 = N`` after each step. ``energy()`` is ``H(x)/N`` at the iterate. Observables
are averaged over runs, with their standard errors (``<name>_sem``).
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np
from threadpoolctl import threadpool_limits

from dmftc.classes.gaussian_field.derive import FieldDerivation
from dmftc.classes.gaussian_field.lower import generate_gaussian_field
from dmftc.classes.gaussian_field.solve import copies_of_weight, model_initial_overlap, power_series, runtime_values
from dmftc.codegen.jit import load_module
from dmftc.errors import SolverError
from dmftc.language.symbols import OVERLAP_Q
from dmftc.results.dataset import make_dataset, run_attributes
from dmftc.runtime.random import primitives
from dmftc.runtime.stepping import DEFAULT_FLOW_DT, advance, diagnose, progress_task, within_scale

log = logging.getLogger("dmftc")

MAX_POWER = 3


class Landscape:
    """One draw of H: a symmetric tensor per power of xi, evaluated with its gradient."""

    def __init__(self, rng: np.random.Generator, dim: int, coefficients: np.ndarray, powers: np.ndarray):
        self.dim = dim
        self.terms = []  # (power, scale, symmetric tensor)
        for c, p in zip(coefficients, powers):
            k = int(p)
            J = rng.standard_normal((dim,) * k) if k > 0 else rng.standard_normal()
            if k == 2:
                J = (J + J.T) / 2
            elif k == 3:
                J = (
                    J
                    + J.transpose(0, 2, 1)
                    + J.transpose(1, 0, 2)
                    + J.transpose(1, 2, 0)
                    + J.transpose(2, 0, 1)
                    + J.transpose(2, 1, 0)
                ) / 6
            self.terms.append((k, math.sqrt(c * dim) / dim ** (k / 2), J))

    def energy_and_gradient(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """H(x) and ∇H(x); for the homogeneous term of power k, H_k = x.∇H_k / k."""
        energy, gradient = 0.0, np.zeros(self.dim)
        for k, scale, J in self.terms:
            if k == 0:
                energy += scale * J
                continue
            g = J
            for _ in range(k - 1):
                g = g @ x  # contract the last index
            energy += scale * float(g @ x)
            gradient += k * scale * g
        return energy, gradient


def simulate(compiled, params: dict, options: dict, progress=None):
    """``options`` (resolved by :mod:`dmftc.options`): dim, runs, steps, seed, dt."""
    return simulate_gaussian_field(
        compiled.derivation, params, progress=progress, generated=compiled.generated, **options
    )


def simulate_gaussian_field(
    derivation: FieldDerivation,
    params: dict,
    *,
    dim: int = 1000,
    runs: int = 10,
    steps: int = 50,
    seed: int = 0,
    dt: float | None = None,
    progress=None,
    initial_overlap: float | None = None,
    generated=None,
):
    model = derivation.model
    if initial_overlap is None:  # from the weight's law: m0 * xstar + ...
        initial_overlap = model_initial_overlap(derivation, params)
    if model.time == "continuous":
        dt = DEFAULT_FLOW_DT if dt is None else dt
    if initial_overlap and not derivation.has_signal:
        raise SolverError("an initial overlap needs a signal", kind="bad-option")
    coefficients, powers = power_series(derivation.xi, OVERLAP_Q, model, params, "xi(q)")
    if any(p != int(p) or p > MAX_POWER for p in powers):
        raise SolverError(
            f"the simulator builds dense couplings for the powers 0..{MAX_POWER} of q in xi(q), "
            f"not {', '.join(f'{p:g}' for p in powers)}",
            kind="not-simulable",
        )
    started = time.perf_counter()
    source, plan = generated or generate_gaussian_field(derivation)
    module = load_module(source)
    values = runtime_values(plan, params, dt)
    copies = copies_of_weight(derivation)
    task = progress_task(progress, f"simulating {model.name} (N = {dim})", runs)

    def one_run(run: int, dim: int) -> np.ndarray:
        rng = np.random.default_rng([seed, run])
        landscape = Landscape(rng, dim, coefficients, powers)
        xstar = np.zeros(dim)
        if derivation.has_signal:
            g = rng.standard_normal(dim)
            xstar = math.sqrt(dim) * g / np.linalg.norm(g)
        Z = np.empty((dim, len(plan.coordinates)))
        module.initial_states(primitives(rng, plan.primitive_laws, dim, antithetic=False), values, Z)
        for c in copies if initial_overlap else ():
            Z[:, c] = initial_overlap * xstar + math.sqrt(1 - initial_overlap**2) * Z[:, c]
        Z_next, Y = np.empty_like(Z), np.empty(dim)
        OBS = np.zeros((steps + 1, len(plan.observables)))
        AGG = np.zeros((steps + 1, len(plan.mean) + len(plan.energy)))
        mean_values = np.zeros(max(len(plan.mean), 1))
        for t in range(steps + 1):
            module.query_points(Z, values, Y)
            energy_y, gradient = landscape.energy_and_gradient(Y)
            x = Z[:, 0]
            energy_x = energy_y if plan.query_is_weight else landscape.energy_and_gradient(x)[0]
            overlap_x = float(x @ xstar) / dim
            energy = energy_x / dim - module.strength(overlap_x, values)
            module.mean_aggregates(Z, xstar, values, mean_values)
            module.observe_aggregates(t, energy, mean_values, values, AGG, OBS)
            if not within_scale(OBS[t]):
                raise diagnose(
                    model,
                    t,
                    [
                        (f"the observable {name} (simulation, run {run})", OBS[t, j])
                        for j, name in enumerate(plan.observables)
                    ],
                )
            if t == steps:
                break
            force = -gradient + module.strength_d1(float(Y @ xstar) / dim, values) * xstar
            noise = rng.standard_normal((dim, plan.n_noise))
            module.site_steps(Z, force, noise, t, values, Z_next)
            if plan.sphere:
                Z_next[:, 0] *= math.sqrt(dim) / np.linalg.norm(Z_next[:, 0])
            Z, Z_next = Z_next, Z
        return OBS

    with threadpool_limits(limits=1, user_api="blas"):
        one_run(0, 4)  # compile on a tiny system
        compiled = time.perf_counter()
        results = []
        for run in range(runs):
            results.append(one_run(run, dim))
            advance(progress, task, run + 1)
    finished = time.perf_counter()
    log.info(
        "%s: compile %.2f s, %d runs at N = %d in %.2f s",
        source.filename,
        compiled - started,
        runs,
        dim,
        finished - compiled,
    )

    stacked = np.stack(results)  # (runs, steps + 1, observables)
    mean = stacked.mean(axis=0)
    sem = stacked.std(axis=0, ddof=1) / np.sqrt(runs) if runs > 1 else np.full_like(mean, np.nan)
    time_step = dt if model.time == "continuous" else 1.0
    attrs = run_attributes(
        kind="simulation",
        model_name=model.name,
        model_path=model.path,
        model_source=model.source,
        params=params,
        settings={"steps": steps, "dim": dim, "runs": runs, "seed": seed, "dt": dt, "initial_overlap": initial_overlap},
        timings={"compile": compiled - started, "run": finished - compiled},
    )
    return make_dataset(
        {name: mean[:, j] for j, name in enumerate(plan.observables)},
        np.arange(steps + 1) * time_step,
        sem={name: sem[:, j] for j, name in enumerate(plan.observables)},
        attrs=attrs,
    )
