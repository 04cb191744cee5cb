"""The DMFT solver of a gaussian_field model (docs/math/gaussian_field.md §2–§3).

* ``update:`` models (and flows that are not of the Cugliandolo–Kurchan form) are solved by the
  exact recursion of the generated module: deterministic, no sampling, ``O(T^3)``. A flow is
  then taken one Euler–Maruyama step of length ``dt`` at a time (first order in ``dt``).
* flows ``dx/dt = -c grad(x) + b gauss()`` on the sphere are solved by the Cugliandolo–Kurchan
  equations (:mod:`dmftc.classes.gaussian_field.ck_solver`) on a uniform grid of step ``dt`` (``steps`` steps), or,
  with ``tmax``, on the adaptive grid of Kim and Latz: the first ``window`` steps have step
  ``dt``, then the step doubles every ``window / 2`` steps until ``tmax`` (gradient flow only).

Results are ``xarray.Dataset``\\ s in the layout of :mod:`dmftc.results.dataset`: the observables, the
radial force ``mu`` (the Lagrange multiplier of the flow), the overlap ``m`` of the query point
with the signal when there is one, and, except on the adaptive grid, the two-time functions
``C`` and ``R`` (for flows ``R(t,t)`` holds the limit ``R(t+, t) = c``).

Two initial conditions have no syntax yet and are options of :func:`solve_gaussian_field`
only: ``initial_overlap`` (``x(0) = m0 x* + sqrt(1 - m0^2) x(0)``) and ``initial_temperature``
(an equilibrium start at ``T0``, Cugliandolo–Kurchan uniform grid only).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time

import numpy as np
import sympy as sp

from dmftc.classes.gaussian_field import ck_solver
from dmftc.classes.gaussian_field.derive import FieldDerivation
from dmftc.classes.gaussian_field.lower import FieldPlan, generate_gaussian_field
from dmftc.codegen.jit import first_call, load_module
from dmftc.errors import SolverError
from dmftc.language.symbols import OVERLAP_M, OVERLAP_Q
from dmftc.results.dataset import make_dataset, run_attributes
from dmftc.runtime.parameters import bad_value
from dmftc.runtime.random import raw_moments
from dmftc.runtime.stepping import DEFAULT_FLOW_DT, advance, chunks, diagnose, diverged, progress_task

log = logging.getLogger("dmftc")

ADAPTIVE_WINDOW = 512  # times per window of the adaptive grid (Kim–Latz use 256-1024)
ADAPTIVE_TOLERANCE = 1e-10  # a row is solved when a sweep changes it by less (1e-9 moves e(t) to 1e6 by 1e-9)
ADAPTIVE_SWEEPS = 500
ADAPTIVE_RELAXATION = 0.6  # mixing of the Anderson steps of a row (0.4 to 0.8 run as fast)


def runtime_values(plan: FieldPlan, params: dict, dt: float | None) -> np.ndarray:
    return np.array([dt if name == "dt" else params[name] for name in plan.parameters], dtype=np.float64)


def number(expr: sp.Expr, model, params: dict) -> float:
    """A sympy expression in the parameters, evaluated."""
    return float(expr.subs({p.symbol: params[p.name] for p in model.params}))


def power_series(expr: sp.Expr, var: sp.Symbol, model, params: dict, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and powers of ``expr = Σ c_k var^p_k`` (the analysis checked the form)."""
    coefficients, powers = [], []
    for term in sp.Add.make_args(sp.expand(expr)):
        if term == 0:
            continue
        coefficient, power = term.as_coeff_exponent(var)
        c, p = number(coefficient, model, params), number(power, model, params)
        if c < 0 or p < 0:
            raise bad_value(
                model,
                params,
                f"{what} has the term {c:g} {var}^{p:g}: a covariance needs non-negative coefficients and powers",
                coefficient,
                power,
            )
        coefficients.append(c)
        powers.append(p)
    return np.array(coefficients, dtype=np.float64), np.array(powers, dtype=np.float64)


def model_initial_overlap(derivation: FieldDerivation, params: dict) -> float:
    """The overlap with the signal that the model's initial law gives the weight."""
    values = {p.symbol: params[p.name] for p in derivation.model.params}
    return float(derivation.initial_overlap.subs(values))


def copies_of_weight(derivation: FieldDerivation) -> list[int]:
    """Coordinates whose initial law is the weight's (the weight itself, ``state x_prev = x``)."""
    laws = list(derivation.initial_laws)
    return [c for c, law in enumerate(laws) if sp.simplify(law - laws[0]) == 0]


# ----------------------------------------------------------------------------------- options


def check_options(derivation: FieldDerivation, *, steps, mode, tmax, window, initial_overlap, initial_temperature):
    model = derivation.model
    if mode not in ("auto", "exact"):
        raise SolverError(
            f"mode '{mode}' does not apply: the gaussian_field class is solved exactly (mode auto or exact)",
            kind="bad-option",
        )
    if model.time == "discrete":
        if tmax is not None:
            raise SolverError(
                "--tmax is for flow: models (the adaptive grid of the continuous-time equations)", kind="bad-option"
            )
    if window is not None and tmax is None:
        raise SolverError("--window sets the adaptive grid of --tmax; give --tmax too", kind="bad-option")
    if tmax is not None:
        if steps is not None:
            raise SolverError("--tmax sets the end of the adaptive grid; leave out --steps", kind="bad-option")
        if not derivation.ck_form:
            raise SolverError(
                f"the adaptive grid needs a flow dx/dt = -c grad(x) on the sphere ({derivation.not_ck_because})",
                kind="bad-option",
            )
    if initial_overlap and not derivation.has_signal:
        raise SolverError("an initial overlap needs a signal", kind="bad-option")
    if not -1.0 <= initial_overlap <= 1.0:
        raise SolverError(f"the initial overlap must be in [-1, 1], got {initial_overlap}", kind="bad-option")
    if initial_temperature is not None:
        if not (model.time == "continuous" and derivation.ck_form and tmax is None):
            raise SolverError(
                "an equilibrium start is available for flows on the uniform grid of the continuous-time equations",
                kind="bad-option",
            )
        if derivation.has_signal or initial_temperature <= 0:
            raise SolverError("an equilibrium start needs a positive temperature and no signal", kind="bad-option")


# ------------------------------------------------------------------------------------- solve


def solve(compiled, params: dict, options: dict, progress=None):
    """``options`` (resolved by :mod:`dmftc.options`): steps, dt, mode, tmax, window. With
    ``tmax`` the number of steps follows from the adaptive grid; giving both is an error."""
    return solve_gaussian_field(
        compiled.derivation,
        params,
        steps=options["steps"],
        dt=options["dt"],
        mode=options["mode"],
        tmax=options["tmax"],
        window=options["window"],
        progress=progress,
        timings=compiled.timings,
        generated=compiled.generated,
    )


def solve_gaussian_field(
    derivation: FieldDerivation,
    params: dict,
    *,
    steps: int | None = None,
    dt: float | None = None,
    mode: str = "auto",
    progress=None,
    timings: dict | None = None,
    tmax: float | None = None,
    window: int | None = None,
    initial_overlap: float | None = None,
    initial_temperature: float | None = None,
    generated=None,
):
    """Solve the DMFT of a gaussian_field model; returns an ``xarray.Dataset``.

    ``tmax`` selects the adaptive grid of a flow (``window`` times per window, default
    ``ADAPTIVE_WINDOW``; first step ``dt``); ``initial_overlap`` and ``initial_temperature``:
    the module docstring; ``generated``: the (source, plan) of the pipeline, when it has them."""
    model = derivation.model
    if initial_overlap is None:  # from the weight's law: m0 * xstar + ...
        initial_overlap = model_initial_overlap(derivation, params)
    check_options(
        derivation,
        steps=steps,
        mode=mode,
        tmax=tmax,
        window=window,
        initial_overlap=initial_overlap,
        initial_temperature=initial_temperature,
    )
    steps = 50 if steps is None else steps
    window = ADAPTIVE_WINDOW if window is None else window
    if model.time == "continuous":
        dt = DEFAULT_FLOW_DT if dt is None else dt
    started = time.perf_counter()
    source, plan = generated or generate_gaussian_field(derivation)
    module = load_module(source)
    values = runtime_values(plan, params, dt)
    if model.time == "continuous" and derivation.ck_form:
        if not derivation.linear:
            raise SolverError(
                "the observables need the exact recursion: " + "; ".join(derivation.not_linear_because),
                kind="not-linear",
            )
        if tmax is not None:
            run, method = _run_adaptive, "continuous, adaptive grid (Kim-Latz)"
            settings = {"tmax": tmax, "dt": dt, "window": window}
        else:
            run, method = _run_uniform, "continuous, uniform grid (Heun)"
            settings = {"steps": steps, "dt": dt}
    else:
        if not derivation.linear:
            raise SolverError(
                "the exact recursion needs a process linear in its Gaussian inputs: "
                + "; ".join(derivation.not_linear_because),
                kind="not-linear",
                hint="'dmftc simulate' runs the finite system of any update",
            )
        run, method = _run_exact, "exact discrete recursion" + (" (Euler step of the flow)" if dt else "")
        settings = {"steps": steps, "dt": dt}
    options = dict(
        steps=steps,
        dt=dt,
        tmax=tmax,
        window=window,
        initial_overlap=initial_overlap,
        initial_temperature=initial_temperature,
    )
    # compile on a tiny problem first, so that compile and run times are reported apart
    tiny = dict(options, steps=4, window=8, tmax=None if tmax is None else 32 * dt)

    def warm_up(fresh):
        with contextlib.suppress(SolverError):  # a divergence is reported by the real run
            run(fresh, plan, derivation, params, values, tiny, None)

    module, _ = first_call(source, warm_up)
    compiled = time.perf_counter()
    out = run(module, plan, derivation, params, values, options, progress)
    finished = time.perf_counter()
    timings = dict(timings or {}) | {"compile": compiled - started, "run": finished - compiled}
    log.info("%s: compile %.2f s, run %.2f s (%s)", source.filename, compiled - started, finished - compiled, method)

    attrs = run_attributes(
        kind="dmft",
        model=model,
        params=params,
        settings=settings
        | {
            "mode": "exact",
            "method": method,
            "initial_overlap": initial_overlap,
            "initial_temperature": initial_temperature,
        },
        timings=timings,
    )
    series = {"mu": out["mu"]} | ({"m": out["m"]} if derivation.has_signal else {})
    observables = {name: out["OBS"][:, j] for j, name in enumerate(plan.observables)}
    two_time = {"C": out["C"], "R": out["R"]} if "C" in out else None
    return make_dataset(observables, out["time"], two_time=two_time, series=series, attrs=attrs)


# ----------------------------------------------------------------------------- exact recursion


def _run_exact(module, plan: FieldPlan, derivation, params, values, options, progress) -> dict:
    model = derivation.model
    T = options["steps"]
    K = len(plan.coordinates)
    prim_mean, G0 = raw_moments(plan.primitive_laws)
    P1 = G0.shape[0]
    B = P1 + 1 + (T + 1) * (1 + plan.n_noise)
    E = np.zeros((K, P1))
    module.initial_affine(values, E)
    ZC = np.zeros((K, B))
    ZC[:, :P1] = E
    m0 = options["initial_overlap"]
    if m0:
        for c in copies_of_weight(derivation):  # x(0) = m0 x* + sqrt(1 - m0^2) x(0)
            ZC[c] *= math.sqrt(1 - m0**2)
            ZC[c, P1] += m0
    n_agg = len(plan.mean) + len(plan.energy)
    a = dict(
        ZN=np.zeros((K, B)),
        U=np.zeros((K, B)),
        YC=np.zeros((T + 1, B)),
        UY=np.zeros(B),
        FC=np.zeros(B),
        KXI=np.zeros((T + 1, T + 1)),
        C=np.zeros((T + 1, T + 1)),
        R=np.zeros((T + 1, T + 1)),
        M=np.zeros(T + 1),
        MU=np.zeros(T + 1),
        AGG=np.zeros((T + 1, n_agg)),
        OBS=np.zeros((T + 1, len(plan.observables))),
    )
    task = progress_task(progress, f"solving {model.name}", T + 1)
    time_step = options["dt"] or 1.0
    for t0, t1 in chunks(T):
        status = plan.entry["forward_pass_exact"].call(
            module, t0=t0, t1=t1, params=values, G0=G0, prim_mean=prim_mean, ZC=ZC, **a
        )
        if status >= 0:
            k = min(status, T)
            raise diagnose(
                model,
                status,
                [
                    ("C(t, t)", a["C"][k, k]),
                    ("the radial force mu", a["MU"][k]),
                    *((f"the observable {name}", a["OBS"][k, j]) for j, name in enumerate(plan.observables)),
                ],
                status * time_step,
            )
        advance(progress, task, t1)
    return {"time": np.arange(T + 1) * time_step, "OBS": a["OBS"], "C": a["C"], "R": a["R"], "mu": a["MU"], "m": a["M"]}


# ------------------------------------------------------------------ Cugliandolo–Kurchan solvers


def _ck_inputs(module, plan, derivation, params, values):
    """Mobility, temperature, and f and f_s as power series; checks the initial law."""
    model = derivation.model
    prim_mean, G0 = raw_moments(plan.primitive_laws)
    E = np.zeros((len(plan.coordinates), G0.shape[0]))
    module.initial_affine(values, E)
    mean0, second0 = E[0, 0] + E[0, 1:] @ prim_mean, E[0] @ G0 @ E[0]
    if abs(mean0) > 1e-12 or abs(second0 - 1) > 1e-12:
        raise SolverError(
            f"the continuous-time equations start on the sphere from a centred law: "
            f"E[x(0)] = {mean0:g}, E[x(0)^2] = {second0:g}",
            kind="bad-initial-law",
            hint="use weights x ~ normal(0, 1) on sphere",
        )
    c = number(derivation.mobility, model, params)
    temperature = number(derivation.temperature, model, params)
    if not c > 0:
        raise bad_value(
            model, params, f"the flow needs dx/dt = -c grad(x) with c > 0, got c = {c:g}", derivation.mobility
        )
    fc, fp = power_series(derivation.xi, OVERLAP_Q, model, params, "xi(q)")
    sc, sp_ = power_series(derivation.strength, OVERLAP_M, model, params, "strength(m)")
    return c, temperature, fc, fp, sc, sp_


def _observables(module, plan, values, energy, overlap):
    """Observables from e(t) and m(t): the only moments of (x, x*) are E[x^2] = E[x*^2] = 1 and
    E[x x*] = m, the means are 0."""
    n_mean = len(plan.mean)
    Q = np.zeros((max(n_mean, 1), 2, 2))
    lin = np.zeros((max(n_mean, 1), 2))
    const = np.zeros(max(n_mean, 1))
    module.mean_quadratic(values, Q, lin, const)
    n = len(energy)
    AGG = np.zeros((n, n_mean + len(plan.energy)))
    OBS = np.zeros((n, len(plan.observables)))
    mean_values = np.zeros(max(n_mean, 1))
    for k in range(n):
        moments = np.array([[1.0, overlap[k]], [overlap[k], 1.0]])
        for a in range(n_mean):
            mean_values[a] = const[a] + np.sum(Q[a] * moments)
        plan.entry["observe_aggregates"].call(
            module, t=k, energy=energy[k], mean_values=mean_values, params=values, AGG=AGG, OBS=OBS
        )
    return OBS


def _run_uniform(module, plan, derivation, params, values, options, progress) -> dict:
    model = derivation.model
    c, temperature, fc, fp, sc, sp_ = _ck_inputs(module, plan, derivation, params, values)
    T0 = options["initial_temperature"]
    beta0 = 0.0 if T0 is None else 1.0 / T0
    N, h = options["steps"], options["dt"]
    C, R = np.zeros((N + 1, N + 1)), np.zeros((N + 1, N + 1))
    m, mu, e = np.zeros(N + 1), np.zeros(N + 1), np.zeros(N + 1)
    ck_solver.uniform_start(c, temperature, beta0, fc, fp, sc, sp_, options["initial_overlap"], C, R, m, mu, e)
    task = progress_task(progress, f"solving {model.name}", N + 1)
    for t0, t1 in chunks(N):
        status = ck_solver.uniform_steps(
            max(t0 - 1, 0), t1 - 1, h, c, temperature, beta0, fc, fp, sc, sp_, C, R, m, mu, e
        )
        if status >= 0:
            raise diverged(model, status, time_value=status * h)
        advance(progress, task, t1)
    C = np.tril(C) + np.tril(C, -1).T
    return {
        "time": np.arange(N + 1) * h,
        "OBS": _observables(module, plan, values, e, m),
        "C": C,
        "R": R,
        "mu": mu,
        "m": m,
    }


def _run_adaptive(module, plan, derivation, params, values, options, progress) -> dict:
    model = derivation.model
    c, temperature, fc, fp, sc, sp_ = _ck_inputs(module, plan, derivation, params, values)
    if temperature != 0:
        raise SolverError(
            f"the adaptive grid handles gradient flow (T = 0), here T = {temperature:g}: "
            "at T > 0 the correlation varies fast near the diagonal",
            kind="bad-option",
            hint="leave out --tmax to use the uniform grid",
        )
    N, h, tmax = options["window"], options["dt"], options["tmax"]
    if N < 8 or N % 2:
        raise SolverError(f"the window of the adaptive grid must be even and at least 8, got {N}", kind="bad-option")
    # the first window on the uniform grid; the grid ends at the first time >= tmax
    C, R = np.zeros((N + 1, N + 1)), np.zeros((N + 1, N + 1))
    m, mu, e = np.zeros(N + 1), np.zeros(N + 1), np.zeros(N + 1)
    ck_solver.uniform_start(c, 0.0, 0.0, fc, fp, sc, sp_, options["initial_overlap"], C, R, m, mu, e)
    last = min(N, math.ceil(tmax / h - 1e-9))
    status = ck_solver.uniform_steps(0, last, h, c, 0.0, 0.0, fc, fp, sc, sp_, C, R, m, mu, e)
    if status >= 0:
        raise diverged(model, status, time_value=status * h)
    times, energies = [np.arange(last + 1) * h], [e[: last + 1].copy()]
    multipliers, overlaps = [mu[: last + 1].copy()], [m[: last + 1].copy()]
    C = np.tril(C) + np.tril(C, -1).T
    QT, DQ = np.zeros_like(R), np.zeros_like(R)
    ck_solver.integrated_response(R, h, QT)
    ck_solver.increments(QT, N, DQ)
    stages = max(0, math.ceil(math.log2(tmax / (N * h)) - 1e-9))
    task = progress_task(progress, f"solving {model.name}", stages)
    sweeps = np.zeros(N + 1, dtype=np.int64)
    for stage in range(stages):
        ck_solver.contract(C, QT, DQ, m, mu)
        h *= 2
        first, last = N // 2 + 1, min(N, math.ceil(tmax / h - 1e-9))
        status = ck_solver.adaptive_stage(
            first,
            last,
            h,
            c,
            fc,
            fp,
            sc,
            sp_,
            ADAPTIVE_TOLERANCE,
            ADAPTIVE_SWEEPS,
            ADAPTIVE_RELAXATION,
            C,
            QT,
            DQ,
            m,
            mu,
            e,
            sweeps,
        )
        if status >= 0:
            why = (
                f"no fixed point after {ADAPTIVE_SWEEPS} sweeps"
                if sweeps[status] > ADAPTIVE_SWEEPS
                else "values are not finite"
            )
            raise SolverError(
                f"the adaptive grid of {model.name} failed at time {status * h:g} (step {h:g}): {why}",
                kind="diverged",
                hint="start with a smaller dt",
            )
        times.append(np.arange(first, last + 1) * h)
        energies.append(e[first : last + 1].copy())
        multipliers.append(mu[first : last + 1].copy())
        overlaps.append(m[first : last + 1].copy())
        log.debug("adaptive stage %d: step %g, at most %d sweeps per time", stage, h, sweeps[first : last + 1].max())
        advance(progress, task, stage + 1)
    energy, overlap = np.concatenate(energies), np.concatenate(overlaps)
    return {
        "time": np.concatenate(times),
        "OBS": _observables(module, plan, values, energy, overlap),
        "mu": np.concatenate(multipliers),
        "m": overlap,
    }
