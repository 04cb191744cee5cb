"""The DMFT of a matrix program: one causal pass over the occurrences of its uses
(docs/math/matrix_program.md §4).

* **Monte Carlo** (§4.1, any program): every space holds samples of its single-site process.
  At each occurrence of a use, the source is evaluated on the samples of its space; the field of
  the target space is a Gaussian vector over the occurrences of the same matrix landing there,
  extended by one Cholesky row of its *correlation* matrix (a pivot p² below 1e-8 set to 0,
  §6.1), plus the memory term (mp-field) with the responses R estimated as sample means of the
  Jacobians. Jacobians are carried by the first ``response_samples`` samples of each space, and
  only when some use has a memory term.
* **Exact** (§4.2, linear programs): every per-site quantity is a coefficient vector over the
  random inputs of its space (1, the primitives of the laws, the noises, the fields' ξ); second
  moments follow from the block-diagonal second-moment matrix of the inputs, responses are
  coefficients. No sampling.

Both give the observables at the steps 0..T (a step's observables at its start values, with the
fields of its uses) and the two-time correlation ``C_<coordinate>(t, s)`` of every coordinate.
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np
from numba import njit
from threadpoolctl import threadpool_limits

from dmftc.classes.matrix_program import program
from dmftc.errors import SolverError
from dmftc.results.dataset import make_dataset, run_attributes
from dmftc.runtime.random import standard_normals
from dmftc.runtime.stepping import advance, diagnose, progress_task, within_scale

log = logging.getLogger("dmftc")

PIVOT = 1e-8  # a Cholesky pivot p² below this (on the correlation scale) is zero (docs/math/matrix_program.md §6.1)
RESPONSE_SAMPLES = 2000  # samples that carry Jacobians (the responses' estimator), per space and replica
CLASS_LEVELS, CLASS_NODES = 8, 8  # site classes: graded panels per half of (0, 1), Gauss–Legendre nodes per panel


def solve(compiled, params: dict, options: dict, progress=None):
    """``options`` (resolved by :mod:`dmftc.options`): steps, dt, samples, seed, replicas, mode."""
    d, model = compiled.derivation, compiled.model
    _, plan = compiled.generated
    mode = options["mode"].value if hasattr(options["mode"], "value") else options["mode"]
    if mode == "auto":
        mode = "exact" if d.linear or d.gaussian is not None else "monte-carlo"
    if mode == "exact" and not d.linear and d.gaussian is None:
        raise SolverError(
            f"the exact closure needs a linear program ({d.nonlinear_reason}) "
            f"or Gaussian sources ({d.gaussian_reason})",
            kind="bad-option",
            hint="use --mode monte-carlo (or auto)",
        )
    if mode == "monte-carlo" and d.spec.trainings:
        raise SolverError(
            "the Monte-Carlo pass does not implement trained matrices"
            + (f"; this program needs it: {d.nonlinear_reason}" if not d.linear else ""),
            kind="not-available",
            hint="a program whose rules and outer() factors are affine is solved exactly (--mode exact or auto)",
        )
    if mode == "monte-carlo" and d.needs_responses and d.jump:
        raise SolverError(
            f"the Monte-Carlo pass of {model.name} needs responses through a jump: {d.jump}",
            kind="not-available",
            hint="Jacobian responses miss the delta of a jump (Stein's lemma is not implemented for "
            "matrix programs): write the rule with a smooth function (tanh(k * u) for sign(u)), "
            "or use the gaussian_data class for sign labels",
        )
    steps = options["steps"]
    values, dt = program.runtime_values(plan, params, model, options["dt"])
    started = time.perf_counter()
    module = compiled.first_call(lambda m: m)
    compiled_at = time.perf_counter()
    replicas = options["replicas"] if mode == "monte-carlo" else 1
    samples = max(2, math.ceil(options["samples"] / replicas / 2) * 2)  # even: antithetic pairs
    runs = []
    task = progress_task(progress, f"solving {model.name} ({mode})", replicas * (steps + 1))
    with threadpool_limits(limits=1, user_api="blas"):
        for r in range(replicas):
            rng = np.random.default_rng([options["seed"], r])

            def tick(t, r=r):
                advance(progress, task, r * (steps + 1) + t + 1)

            if mode == "exact":
                runs.append(ExactClosure(module, d, plan, values).run(steps, tick))
            else:
                runs.append(MonteCarlo(module, d, plan, values, samples, rng).run(steps, tick))
    finished = time.perf_counter()
    obs = np.array([r[0] for r in runs])
    mean = obs.mean(axis=0)
    sem = obs.std(axis=0, ddof=1) / np.sqrt(replicas) if replicas > 1 else None
    two_time = {f"C_{name}": np.mean([r[1][name] for r in runs], axis=0) for name in runs[0][1]}
    settings = {"steps": steps, "mode": mode, "dt": dt, "seed": options["seed"] if mode != "exact" else None}
    if mode == "monte-carlo":
        settings |= {
            "samples": samples * replicas,
            "replicas": replicas,
            "error_estimate": f"standard error over {replicas} independent replicas of {samples} samples",
            "response_samples": min(samples, RESPONSE_SAMPLES) if d.needs_responses else 0,
        }
    attrs = run_attributes(
        kind="dmft",
        model=model,
        params=params,
        settings=settings,
        timings=compiled.timings | {"compile": compiled_at - started, "run": finished - compiled_at},
    )
    return make_dataset(
        {name: mean[:, j] for j, name in enumerate(plan.observables)},
        np.arange(steps + 1) * (dt or 1.0),
        sem={name: sem[:, j] for j, name in enumerate(plan.observables)} if sem is not None else None,
        two_time=two_time,
        attrs=attrs,
    )


def memory(dm, command: str, options: dict) -> int:
    """Bytes of the largest arrays of a run (ModelClass.memory), from the numbers of occurrences."""
    d, model = dm.compiled.derivation, dm.model
    symbols = {p.symbol: dm.params[p.name] for p in model.params}
    T = options["steps"]
    per_step = len(d.spec.uses)
    coordinates = len(model.coordinates)
    if command == "simulate":  # the matrices and the coordinates' history of one run
        from dmftc.classes.matrix_program.simulate import space_sizes

        sizes = space_sizes(d.spec, symbols, options["dim"])
        matrices = sum(sizes[m.rows] * sizes[m.cols] for m in d.spec.matrices)
        return 8 * (2 * matrices + (T + 1) * sum(sizes.values()) * max(coordinates, 1))
    occurrences = per_step * (T + 1)
    mode = getattr(options["mode"], "value", options["mode"])
    if mode == "exact" or (mode == "auto" and (d.linear or d.gaussian is not None)):  # coefficient rows
        width = 1 + len(model.primitives) + (T + 1) * (len(model.noises) + per_step)
        classes = 2 * (CLASS_LEVELS + 1) * CLASS_NODES if d.classes else 1  # rows per class (§4.3)
        return 8 * (width * width * len(d.spaces) + classes * (occurrences + (T + 1) * coordinates) * width)
    samples = max(2, options["samples"] // options["replicas"])
    values = samples * (occurrences * 2 + (T + 1) * coordinates)  # sources, normals, histories
    jacobians = 0
    if d.needs_responses:  # the Jacobian of every source occurrence over the fields of its space
        jacobians = min(samples, RESPONSE_SAMPLES) * occurrences * occurrences
    return 8 * (values + jacobians)


# ---------------------------------------------------------------------------- Monte Carlo


@njit(cache=True)
def extend_cholesky(L, n, rho):
    """Row n of the Cholesky factor of a correlation matrix, from the correlations ``rho`` with
    the n earlier entries: (l, p) with L[:n, :n] l = rho by forward substitution (a zero pivot
    contributes nothing) and p² = 1 - |l|², set to 0 below PIVOT (docs/math/matrix_program.md §6.1)."""
    for j in range(n):
        if L[j, j] > 0.0:
            acc = rho[j]
            for k in range(j):
                acc -= L[j, k] * L[n, k]
            L[n, j] = acc / L[j, j]
        else:
            L[n, j] = 0.0
    p2 = 1.0
    for k in range(n):
        p2 -= L[n, k] * L[n, k]
    L[n, n] = math.sqrt(p2) if p2 >= PIVOT else 0.0


class MonteCarlo:
    """The Monte-Carlo forward pass of one replica (module docstring)."""

    def __init__(self, module, d, plan, values, samples: int, rng: np.random.Generator):
        self.module, self.d, self.plan, self.values, self.rng = module, d, plan, values, rng
        self.spec = d.spec
        self.S = samples
        self.J = min(samples, RESPONSE_SAMPLES) if d.needs_responses else 0
        self.states = {s.name: program.start(module, s, values, samples, rng, antithetic=True) for s in plan.spaces}
        self.columns = {k: program.column(plan, k) for k in range(len(self.spec.uses))}

    def run(self, steps: int, tick):
        spec, d = self.spec, self.d
        clock = program.occurrences(d, steps)
        # fields landing in each space, numbered by occurrence: their Jacobian columns
        landing = {
            s.name: [i for i, (_, k) in enumerate(clock) if spec.uses[k].tgt == s.name] for s in self.plan.spaces
        }
        column_of = {s: {occ: j for j, occ in enumerate(occs)} for s, occs in landing.items()}
        width = {s: len(occs) for s, occs in landing.items()}
        J = self.J
        jac = {name: np.zeros((J, len(st.plan.coordinates), width[name])) for name, st in self.states.items()}
        jac_h = {name: np.zeros((J, len(st.plan.fields), width[name])) for name, st in self.states.items()}
        # per use: the source values (and Jacobians) of every occurrence, and the field group
        sources = {k: [] for k in range(len(spec.uses))}
        source_jac = {k: [] for k in range(len(spec.uses))}
        occurrence_of = {k: [] for k in range(len(spec.uses))}  # clock index of each occurrence
        groups = {}  # (matrix, tgt) -> dict(L, normals, sd, members)
        agg = np.zeros(self.plan.n_aggregates)
        obs = np.zeros((steps + 1, len(self.plan.observables)))
        values = self.values
        position = 0
        for t in range(steps + 1):
            for st in self.states.values():
                st.E[:] = standard_normals(self.rng, st.E.shape[::-1]).T if st.E.shape[1] else st.E
                st.history.append(st.Z.copy())
            self.step_start = position  # the first occurrence of step t (fresh matrices couple from it)
            while position < len(clock) and clock[position][0] == t:
                k = clock[position][1]
                self._occurrence(k, position, t, sources, source_jac, occurrence_of, groups, jac, jac_h, column_of)
                position += 1
            program.observe(self.module, self.plan, self.states, t, values, agg)
            obs[t] = program.combine(self.module, self.plan, agg, values)
            if t < steps:
                self._step(t, jac, jac_h)
            tick(t)
        correlations = {}
        for st in self.states.values():
            history = np.array(st.history)
            for j, name in enumerate(st.plan.coordinates):
                correlations[name] = history[:, :, j] @ history[:, :, j].T / st.size
        return obs, correlations

    def _occurrence(self, k, position, t, sources, source_jac, occurrence_of, groups, jac, jac_h, column_of):
        spec, d, module, values = self.spec, self.d, self.module, self.values
        use, rule = spec.uses[k], d.rules[k]
        src, tgt = self.states[use.src], self.states[use.tgt]
        J = self.J
        # the source on the samples of its space, and its Jacobian over the fields landing there
        x = np.zeros(self.S)
        dZ = np.zeros((self.S, len(src.plan.coordinates))) if J else _EMPTY2
        dH = np.zeros((self.S, len(src.plan.fields))) if J else _EMPTY2
        getattr(module, f"source_{k + 1}")(t, values, src.Z, src.K, src.H, src.E, x, dZ, dH, bool(J))
        if not within_scale(x):
            raise diagnose(d.model, t, [(f"the source of use {k + 1}, {use.text}", x)])
        jx = None
        if J:
            jx = np.einsum("sz,szc->sc", dZ[:J], jac[use.src]) + np.einsum("sh,shc->sc", dH[:J], jac_h[use.src])
        sources[k].append(x)
        source_jac[k].append(jx)
        occurrence_of[k].append(position)

        # the Gaussian part: one more entry of the field vector of (matrix, tgt) (mp-noise)
        fresh = spec.matrix(use.matrix).fresh  # drawn anew every step: a new field group per step
        key = (use.matrix, use.tgt, t if fresh else None)
        group = groups.setdefault(key, {"members": [], "sd": [], "L": None, "normals": None})
        members = group["members"]
        n = len(members)
        covariance = np.zeros(n + 1)
        kappa = {j: program.value(c, d.model, values) for j, c in rule.covariance}
        for i, (k2, idx) in enumerate([*members, (k, len(sources[k]) - 1)]):
            if k2 in kappa:
                covariance[i] = kappa[k2] * float(np.mean(x * sources[k2][idx]))
        sd = math.sqrt(max(covariance[n], 0.0))
        if group["L"] is None or group["L"].shape[0] <= n:  # grow the factor and the normals
            capacity = 2 * n + 8
            L, normals = np.zeros((capacity, capacity)), np.zeros((capacity, self.S))
            if group["L"] is not None:
                L[:n, :n], normals[:n] = group["L"][:n, :n], group["normals"][:n]
            group["L"], group["normals"] = L, normals
        L, normals = group["L"], group["normals"]
        sds = np.array(group["sd"])
        scale = np.where(sds > 0, sds, 1.0) * (sd if sd > 0 else 1.0)
        rho = np.where((sds > 0) & (sd > 0), covariance[:n] / scale, 0.0)
        extend_cholesky(L, n, np.ascontiguousarray(rho))
        normals[n] = standard_normals(self.rng, (self.S,))
        xi = sd * (L[n, : n + 1] @ normals[: n + 1])
        members.append((k, len(sources[k]) - 1))
        group["sd"].append(sd)

        # the memory: Σ_f κ^mem R_src(e, f) x^f over earlier occurrences f of uses landing in src
        h = xi
        jh = np.zeros((J, len(column_of[use.tgt]))) if J else None
        if J:
            jh[:, column_of[use.tgt][position]] = 1.0
        for j, kappa_mem in rule.memory:
            kappa_value = program.value(kappa_mem, d.model, values)
            for idx, occ in enumerate(occurrence_of[j]):
                if occ >= position or (fresh and occ < self.step_start):
                    continue
                response = float(np.mean(jx[:, column_of[use.src][occ]])) if J else 0.0
                if response == 0.0:
                    continue
                h = h + kappa_value * response * sources[j][idx]
                if J:
                    jh += kappa_value * response * source_jac[j][idx]
        if not within_scale(h):
            raise diagnose(d.model, t, [(f"the field of use {k + 1}, {use.text}", h)])
        column = self.columns[k]
        tgt.H[:, column] = h
        if J:
            jac_h[use.tgt][:, column] = jh

    def _step(self, t, jac, jac_h):
        module, values, J = self.module, self.values, self.J
        for name, st in self.states.items():
            nz, nh = len(st.plan.coordinates), len(st.plan.fields)
            Znew = np.zeros_like(st.Z)
            dZ = np.zeros((self.S, nz, nz)) if J else _EMPTY3
            dH = np.zeros((self.S, nz, nh)) if J else _EMPTY3
            getattr(module, f"step_{name}")(t, values, st.Z, st.K, st.H, st.E, Znew, dZ, dH, bool(J))
            if not within_scale(Znew):
                raise diagnose(self.d.model, t + 1, [(f"the coordinates of space {name}", Znew)])
            if J:
                jac[name] = np.einsum("szy,syc->szc", dZ[:J], jac[name]) + np.einsum(
                    "szh,shc->szc", dH[:J], jac_h[name]
                )
            st.Z = Znew


_EMPTY2 = np.zeros((1, 1))
_EMPTY3 = np.zeros((1, 1, 1))


# ---------------------------------------------------------------------------- exact closure


class ExactClosure:
    """The exact closure of a linear program, or the Gaussian closure of a program whose state is
    linear and whose nonlinear sources are functions f(u) of one affine argument (module
    docstring; docs/math/matrix_program.md §4.2): E[f(u) v] and E[f(u) g(u')] by Gauss–Hermite
    quadrature over the Gaussian arguments. A program linear in each site class (§4.3) carries a
    coefficient row per class q of its space (the first index of every row array); averages over
    the sites are the weighted sums over the classes."""

    def __init__(self, module, d, plan, values):
        self.module, self.d, self.plan, self.values = module, d, plan, values
        self.gaussian = d.gaussian or {}

    def run(self, steps: int, tick):
        d, plan, spec, module, values = self.d, self.plan, self.d.spec, self.module, self.values
        clock = program.occurrences(d, steps)
        spaces = {s.name: _InputSpace(s, d.space(s.name), steps, clock, spec) for s in plan.spaces}
        Hc = {name: np.zeros((sp_.n_class, len(sp_.plan.fields), sp_.width)) for name, sp_ in spaces.items()}
        Zc = {}  # coefficient rows of the coordinates over the inputs of their space, per class
        for name, sp_ in spaces.items():
            c = np.zeros((sp_.n_class, len(sp_.plan.coordinates), sp_.n_local))
            getattr(module, f"affine_initial_{name}")(values, sp_.U, c)
            Zc[name] = sp_.combine_rows(c, np.zeros((sp_.n_class, c.shape[1], sp_.width)), Hc[name], 0)
        # per use: the coefficient rows (class, input) of each occurrence's source (of its
        # argument u for f(u)), and their means and variances per class (fixed once made: M
        # changes only for later inputs)
        count = {k: sum(1 for _, j in clock if j == k) for k in range(len(spec.uses))}
        rows = {  # filled in clock order: rows[k][:, :n] are the first n occurrences of use k
            k: np.zeros((spaces[u.src].n_class, count[k], spaces[u.src].width)) for k, u in enumerate(spec.uses)
        }
        stats = {k: [] for k in range(len(spec.uses))}
        couplings = {c: program.value(c, d.model, values) for r in d.rules for _, c in r.covariance + r.memory}  # κ
        occurrence_of = {k: [] for k in range(len(spec.uses))}
        # uses of a fresh matrix couple only within their step: first_of_step[j] indexes the
        # first occurrence of use j at the current step
        fresh = [spec.matrix(u.matrix).fresh for u in spec.uses]
        history = {name: [] for name in spaces}
        obs = np.zeros((steps + 1, len(plan.observables)))
        agg = np.zeros(plan.n_aggregates)
        trained = _Trained(spec, spaces, steps, lambda e: program.value(e, d.model, values))

        def train(upto: int, t: int) -> None:  # the training terms placed before use ``upto``
            while trained.done <= upto:
                for term in trained.at.get(trained.done, ()):
                    m = term.matrix
                    u = self._factor_row(spaces[m.rows], term.u, t, Zc, Hc)
                    v = self._factor_row(spaces[m.cols], term.v, t, Zc, Hc)
                    trained.add(m.name, term.value(d.model, values, t), u, v)
                trained.done += 1

        position = 0
        for t in range(steps + 1):
            first_of_step = {k: len(occurrence_of[k]) for k in occurrence_of}
            trained.done = 0
            for name in spaces:
                history[name].append(Zc[name].copy())
            while position < len(clock) and clock[position][0] == t:
                k = clock[position][1]
                train(k, t)
                use, rule = spec.uses[k], d.rules[k]
                src, tgt = spaces[use.src], spaces[use.tgt]
                coefficients = np.zeros((src.n_class, src.n_local))
                getattr(module, f"affine_source_{k + 1}")(t, values, src.U, coefficients)
                row = src.combine(coefficients, Zc[use.src], Hc[use.src], t)
                a = src.end[t]  # the inputs so far
                row_M = np.zeros_like(row)
                row_M[:, :a] = row[:, :a] @ src.M[:a, :a]
                mu = row_M[:, 0].copy()  # kept in stats: not a view of row_M
                var = np.einsum("qi,qi->q", row_M, row) - mu * mu
                rows[k][:, len(occurrence_of[k])] = row
                stats[k].append((mu, np.maximum(var, 0.0)))
                occurrence_of[k].append(position)
                # covariance with the earlier occurrences of the same matrix landing in tgt (mp-noise)
                entries = []
                for j, kappa in rule.covariance:
                    n = len(occurrence_of[j]) - (j == k)  # the earlier occurrences of use j
                    first = first_of_step[j] if fresh[k] else 0  # a fresh matrix: this step's only
                    if n > first:
                        others = (rows[j][:, first:n], np.array(stats[j][first:n]))
                        moments = self._moments(src, t, (k, row_M, stats[k][-1]), j, others)
                        entries += zip(occurrence_of[j][first:n], couplings[kappa] * moments)
                own = 0.0
                if k in dict(rule.covariance):
                    itself = (row[:, None], np.array(stats[k][-1:]))
                    kappa_own = couplings[dict(rule.covariance)[k]]
                    own = kappa_own * self._moments(src, t, (k, row_M, stats[k][-1]), k, itself)[0]
                xi = tgt.new_field(position, use.matrix, entries, own)
                # the field: ξ plus the memory (mp-field); a response is the coefficient of the
                # source on an earlier ξ (times E[f'(u)] for a source f(u)), averaged over the
                # classes of the source's space
                slope = self._slope(t, k, stats[k][-1])
                h = np.zeros((tgt.n_class, tgt.width))
                h[:, xi] = 1.0
                for j, kappa_mem in rule.memory:
                    first = first_of_step[j] if fresh[k] else 0
                    earlier = [occ for occ in occurrence_of[j][first:] if occ < position]
                    if earlier:
                        columns = [src.field_index[occ] for occ in earlier]
                        response = slope * (src.weights @ row[:, columns])  # R_src(e, f) for each earlier f
                        b = tgt.end[t]  # the sources' inputs so far
                        sources = rows[j][:, first : first + len(earlier), :b]
                        h[:, :b] += couplings[kappa_mem] * (response @ sources)
                h += trained.field(use, row_M, src)
                Hc[use.tgt][:, program.column(plan, k)] = h
                position += 1
            train(len(spec.uses), t)
            for s in plan.spaces:
                if s.aggregates:
                    agg[list(s.aggregates)] = spaces[s.name].observe(module, t, values, Zc[s.name], Hc[s.name])
            obs[t] = program.combine(module, plan, agg, values)
            if not within_scale(obs[t]):
                raise diagnose(d.model, t, [(f"the observable {n}", obs[t, j]) for j, n in enumerate(plan.observables)])
            if t < steps:
                for name, sp_ in spaces.items():
                    if sp_.plan.coordinates:
                        c = np.zeros((sp_.n_class, len(sp_.plan.coordinates), sp_.n_local))
                        getattr(module, f"affine_step_{name}")(t, values, sp_.U, c)
                        Zc[name] = sp_.combine_rows(c, Zc[name], Hc[name], t)
            tick(t)
        correlations = {}
        for name, sp_ in spaces.items():
            stacked = np.array(history[name])  # (steps + 1, classes, nz, width)
            for j, coordinate in enumerate(sp_.plan.coordinates):
                C = np.zeros((steps + 1, steps + 1))
                for q, weight in enumerate(sp_.weights):  # C(t, s) = Σ_q ω_q a_q(t) M a_q(s)ᵀ (mp-classes)
                    A = stacked[:, q, j]  # (time, input)
                    C += weight * ((A @ sp_.M) @ A.T)
                correlations[coordinate] = C
        return obs, correlations

    def _factor_row(self, space, j: int, t: int, Zc: dict, Hc: dict) -> np.ndarray:
        """The coefficient rows (class, input) of factor j of the training terms."""
        c = np.zeros((space.n_class, space.n_local))
        getattr(self.module, f"affine_factor_{j + 1}")(t, self.values, space.U, c)
        return space.combine(c, Zc[space.plan.name], Hc[space.plan.name], t)

    def _function(self, k: int, t: int):
        """u -> (f(u), f'(u)) of use k's source (generated: argument_source_k)."""

        def f(u):
            out, dout = np.empty_like(u), np.empty_like(u)
            getattr(self.module, f"argument_source_{k + 1}")(t, self.values, u.ravel(), out.ravel(), dout.ravel())
            return out, dout

        return f

    def _moments(self, space, t: int, new: tuple, j: int, others: tuple) -> np.ndarray:
        """E[x^new x^other] for the occurrences ``others`` (rows, (mean, variance) of each) of use
        j: a M bᵀ for two affine sources, Stein's identity for one f(u), Gauss–Hermite in two
        dimensions for two. ``new`` holds the new source's row times M (a M)."""
        k, row_M, (mu, var) = new  # row_M: (class, input); mu, var: per class
        rows, stats = others  # (class, occurrence, input); (occurrence, mean or variance, class)
        a = space.end[t]  # the inputs so far
        second = (rows[:, :, :a] @ row_M[:, :a, None])[:, :, 0].T  # (occurrence, class)
        a_gauss, b_gauss = k in self.gaussian, j in self.gaussian
        if not a_gauss and not b_gauss:
            return second @ space.weights
        # the Gaussian closure has one class (§4.3 needs a linear program)
        second, mu, var, others_mu, others_var = second[:, 0], mu[0], var[0], stats[:, 0, 0], stats[:, 1, 0]
        cov = second - mu * others_mu
        if a_gauss and b_gauss:
            f, g = self._function(k, t), self._function(j, t)
            return GAUSS_HERMITE.pair(f, mu, np.sqrt(var), g, others_mu, np.sqrt(others_var), cov)
        # one affine source v and one f(u): E[v f(u)] = E[v] E[f(u)] + Cov(v, u) E[f'(u)] (Stein)
        n = rows.shape[1]
        if a_gauss:
            f, u_mu, u_sd, v_mu = self._function(k, t), np.full(n, mu), np.full(n, np.sqrt(var)), others_mu
        else:
            f, u_mu, u_sd, v_mu = self._function(j, t), others_mu, np.sqrt(others_var), np.full(n, mu)
        value, slope = GAUSS_HERMITE.single(f, u_mu, u_sd)
        return v_mu * value + cov * slope

    def _slope(self, t: int, k: int, stat: tuple) -> float:
        """E[f'(u)] for a source f(u) (its responses are those of u times this), 1 for an affine one."""
        if k not in self.gaussian:
            return 1.0
        mu, var = stat[0][0], stat[1][0]
        return float(GAUSS_HERMITE.single(self._function(k, t), np.array([mu]), np.array([np.sqrt(var)]))[1][0])


class _Trained:
    """The training terms c u vᵀ / N_cols of the trained matrices so far, as coefficient rows of u
    (in the rows' space) and v (the columns'), and the part of a use's field they make
    (docs/math/matrix_program.md §2.1, eq. mp-trained): W x gets Σ c u E_cols[v x], Wᵀ y gets
    Σ c r v E_rows[u y] with r = N_rows / N_cols."""

    def __init__(self, spec, spaces: dict, steps: int, value):
        self.at, self.done = program.trainings_at(spec), 0
        per_step = {}
        for terms in self.at.values():
            for term in terms:
                per_step[term.matrix.name] = per_step.get(term.matrix.name, 0) + 1
        self.count = dict.fromkeys(per_step, 0)
        self.c = {m: np.zeros(n * (steps + 1)) for m, n in per_step.items()}
        self.u, self.v = {}, {}
        for m, n in per_step.items():
            rows, cols = (spaces[x] for x in (spec.matrix(m).rows, spec.matrix(m).cols))
            self.u[m] = np.zeros((n * (steps + 1), rows.n_class, rows.width))
            self.v[m] = np.zeros((n * (steps + 1), cols.n_class, cols.width))
        shape = {m: (spec.matrix(m).rows, spec.matrix(m).cols) for m in per_step}
        self.ratio = {m: value(spec.space(rows).ratio / spec.space(cols).ratio) for m, (rows, cols) in shape.items()}

    def add(self, matrix: str, c: float, u: np.ndarray, v: np.ndarray) -> None:
        n = self.count[matrix]
        self.c[matrix][n], self.u[matrix][n], self.v[matrix][n] = c, u, v
        self.count[matrix] = n + 1

    def field(self, use, row_M: np.ndarray, src) -> np.ndarray | float:
        """The trained part of the field of ``use``, whose source row times M is ``row_M``."""
        n = self.count.get(use.matrix, 0)
        if not n:
            return 0.0
        c = self.c[use.matrix][:n]
        if use.transpose:  # Wᵀ y: v in the target, E_rows[u y]
            seconds = np.einsum("nqi,qi->nq", self.u[use.matrix][:n], row_M) @ src.weights
            return np.tensordot(c * self.ratio[use.matrix] * seconds, self.v[use.matrix][:n], 1)
        seconds = np.einsum("nqi,qi->nq", self.v[use.matrix][:n], row_M) @ src.weights
        return np.tensordot(c * seconds, self.u[use.matrix][:n], 1)


class _GaussHermite:
    """Expectations over Gaussian arguments with n Gauss–Hermite nodes per dimension."""

    def __init__(self, n: int):
        nodes, weights = np.polynomial.hermite_e.hermegauss(n)
        self.z, self.w = nodes, weights / weights.sum()

    def single(self, f, mu: np.ndarray, sd: np.ndarray):
        """(E[f(U)], E[f'(U)]) for U ~ N(mu_i, sd_i²), each an array. E[f'(U)] is Stein's
        E[(U - mu) f(U)] / sd², which holds for an f with jumps too (sign, steps); f'(mu) where
        sd = 0."""
        value, slope = f(mu[:, None] + sd[:, None] * self.z[None, :])
        stein = (value * self.z[None, :]) @ self.w / np.where(sd > 0, sd, 1.0)
        return value @ self.w, np.where(sd > 0, stein, slope[:, 0])

    def pair(self, f, mu, sd, g, mu2, sd2, cov) -> np.ndarray:
        """E[f(U) g(V_i)] for (U, V_i) Gaussian: U ~ N(mu, sd²), V_i ~ N(mu2_i, sd2_i²), Cov = cov_i."""
        z1, z2 = np.meshgrid(self.z, self.z, indexing="ij")
        w = np.outer(self.w, self.w).ravel()
        z1, z2 = z1.ravel(), z2.ravel()
        rho = np.where((sd > 0) & (sd2 > 0), cov / np.where(sd2 > 0, sd2, 1.0) / (sd if sd > 0 else 1.0), 0.0)
        rho = np.clip(rho, -1.0, 1.0)
        fu = f(np.asarray(mu + sd * z1))[0]
        v = mu2[:, None] + sd2[:, None] * (rho[:, None] * z1[None, :] + np.sqrt(1 - rho**2)[:, None] * z2[None, :])
        return (g(v)[0] * fu[None, :]) @ w


GAUSS_HERMITE = _GaussHermite(32)


def class_quadrature(levels: int, nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights on (0, 1) for the site classes of a uniform input (docs/math/
    matrix_program.md §4.3): Gauss–Legendre with ``nodes`` points on panels graded geometrically
    (ratio 4) toward both ends, the smallest 4^-levels wide, so that a law singular at an end
    (a power law λ = (1 + (K - 1) u)^(-a): most of the variation at u < 1/K) is resolved on the
    scale of log u."""
    edges = np.concatenate([[0.0], 4.0 ** -np.arange(levels, 0, -1), [0.5]])
    panels = list(zip(edges[:-1], edges[1:])) + [(1 - b, 1 - a) for a, b in zip(edges[:-1], edges[1:])]
    x, w = np.polynomial.legendre.leggauss(nodes)
    u = np.concatenate([(a + b) / 2 + (b - a) / 2 * x for a, b in panels])
    weights = np.concatenate([(b - a) / 2 * w for a, b in panels])
    order = np.argsort(u)
    return u[order], weights[order]


class _InputSpace:
    """The random inputs of one space in the exact closure: (1, primitives, then each step's
    noises and the ξ of its occurrences in clock order), and their second-moment matrix M; the
    values ``U`` of the primitive held fixed per site class (§4.3) and the classes' weights. The
    inputs are numbered in time order, so that everything up to step t lives in the first
    ``end[t]`` columns: the products of that step skip the columns of later steps."""

    def __init__(self, plan_space, process, steps, clock, spec):
        self.plan = plan_space
        laws = [law for i, law in enumerate(plan_space.primitive_laws) if i not in plan_space.classed]
        if plan_space.classed:  # one uniform input: its quadrature classes
            u, self.weights = class_quadrature(CLASS_LEVELS, CLASS_NODES)
            self.U = u[:, None]
        else:
            self.U, self.weights = np.zeros((1, 0)), np.ones(1)
        self.n_class = len(self.weights)
        self.n_prim = len(laws)
        self.n_noise = plan_space.n_noise
        # local inputs of a rule: (1, Z, H, E, PR); global index of each noise and ξ
        self.n_local = 1 + len(plan_space.coordinates) + len(plan_space.fields) + self.n_noise + self.n_prim
        base = 1 + self.n_prim
        landing = {}  # step -> the occurrences whose ξ lands here
        for occ, (step, k) in enumerate(clock):
            if spec.uses[k].tgt == plan_space.name:
                landing.setdefault(step, []).append(occ)
        self.noise_index, self.field_index, self.end = {}, {}, []
        index = base
        for t in range(steps + 1):
            self.noise_index[t] = list(range(index, index + self.n_noise))
            index += self.n_noise
            for occ in landing.get(t, ()):
                self.field_index[occ] = index
                index += 1
            self.end.append(index)
        self.width = index
        M = np.zeros((self.width, self.width))
        means = np.array([{"uniform": 0.5}.get(law, 0.0) for law in laws])
        seconds = np.array([{"uniform": 1 / 3}.get(law, 1.0) for law in laws])
        M[0, 0] = 1.0
        M[0, 1:base] = M[1:base, 0] = means
        M[1:base, 1:base] = np.outer(means, means)
        M[np.arange(1, base), np.arange(1, base)] = seconds
        noise = [i for columns in self.noise_index.values() for i in columns]
        M[noise, noise] = 1.0
        self.M = M
        self.group_members: dict[str, list[int]] = {}

    def combine(self, c: np.ndarray, Zrows, Hrows, t) -> np.ndarray:
        """Global coefficients (class, input) of an affine rule with local coefficients c (class,
        local input) over (1, Z, H, E, PR); Zrows, Hrows: (class, row, input)."""
        nz, nh = Zrows.shape[1], Hrows.shape[1]
        out = np.zeros((self.n_class, self.width))
        out[:, 0] = c[:, 0]
        if nz:
            out += np.einsum("qr,qri->qi", c[:, 1 : 1 + nz], Zrows)
        if nh:
            out += np.einsum("qr,qri->qi", c[:, 1 + nz : 1 + nz + nh], Hrows)
        if self.n_noise:
            out[:, self.noise_index[t]] += c[:, 1 + nz + nh : 1 + nz + nh + self.n_noise]
        if self.n_prim:
            out[:, 1 : 1 + self.n_prim] += c[:, 1 + nz + nh + self.n_noise :]
        return out

    def combine_rows(self, c, Zrows, Hrows, t) -> np.ndarray:
        """combine() for every rule of c (class, rule, local input): (class, rule, input)."""
        out = np.zeros((self.n_class, c.shape[1], self.width))
        for r in range(c.shape[1]):
            out[:, r] = self.combine(c[:, r], Zrows, Hrows, t)
        return out

    def new_field(self, position: int, matrix: str, entries: list, own: float) -> int:
        """Add the ξ of occurrence ``position``: its variance and covariances with the earlier ξ
        of the same matrix landing here (entries: (occurrence, covariance))."""
        i = self.field_index[position]
        self.M[i, i] = own
        for occ, value in entries:
            j = self.field_index[occ]
            self.M[i, j] = self.M[j, i] = value
        return i

    def observe(self, module, t, values, Zrows, Hrows) -> np.ndarray:
        """The mean() aggregates of this space: E[v'Qv + l'v + c0], v = (Z, H, PR), averaged over
        the classes."""
        n_agg, Q = len(self.plan.aggregates), self.n_class
        nv = Zrows.shape[1] + Hrows.shape[1] + self.n_prim
        Qf, l, c0 = np.zeros((Q, n_agg, nv, nv)), np.zeros((Q, n_agg, nv)), np.zeros((Q, n_agg))
        getattr(module, f"quadratic_observe_{self.plan.name}")(t, values, self.U, Qf, l, c0)
        prim_rows = np.zeros((Q, self.n_prim, self.width))
        prim_rows[:, np.arange(self.n_prim), 1 + np.arange(self.n_prim)] = 1.0
        nonzero = Qf != 0
        used = np.flatnonzero(nonzero.any(axis=(0, 1, 2)) | nonzero.any(axis=(0, 1, 3)) | (l != 0).any(axis=(0, 1)))
        Qf, l = Qf[:, :, used][:, :, :, used], l[:, :, used]  # the variables the observables read
        a = self.end[t]  # the inputs so far
        V = np.concatenate([Zrows, Hrows, prim_rows], axis=1)[:, used, :a]
        VM = (V.reshape(-1, a) @ self.M[:a, :a]).reshape(V.shape)  # one product
        second, first = np.einsum("qiw,qjw->qij", VM, V), VM[:, :, 0]  # M is symmetric: (V M)[:, :, 0] = V M[:, 0]
        per_class = np.einsum("qaij,qij->qa", Qf, second) + np.einsum("qai,qi->qa", l, first) + c0
        return self.weights @ per_class
