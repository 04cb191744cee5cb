"""The DMFT solver of a gaussian_data model: runs the generated module.

The generated module does the numerical work; this module draws its random inputs
(randomised quasi-Monte Carlo by default, docs/math/gaussian_data.md §5.1),
chooses the response estimators, runs the forward pass in chunks of steps with a progress bar,
turns a blow-up into a :class:`SolverError` naming the step, and returns the results as an
``xarray.Dataset`` (layout in :mod:`dmftc.results.dataset`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from dmftc.classes.gaussian_data import bias_variance
from dmftc.classes.gaussian_data.lower import DataPlan
from dmftc.classes.gaussian_data.spectral import not_spectral_because, output_steps, run_spectral
from dmftc.errors import SolverError
from dmftc.results.dataset import make_dataset, run_attributes
from dmftc.runtime import averaging
from dmftc.runtime.parameters import bad_value
from dmftc.runtime.random import law_samples, random_inputs, raw_moments
from dmftc.runtime.stepping import advance, check_status, chunks, diagnose, progress_task

log = logging.getLogger("dmftc")

HISTORY_BUDGET_BYTES = 3 * 2**30  # for the two per-sample Jacobian histories together
# Fewer samples than this cannot carry the Jacobian histories usefully: Stein instead
MIN_RESPONSE_SAMPLES = 1000
# --responses auto, where the rule picks Jacobians and the run costs at least PILOT_SHARE times the
# pilot: the pilot chooses between Stein and Jacobians at equal error (docs/math/gaussian_data.md
# §4, eq. glm-cost) from PILOT_REPLICAS replicas of up to PILOT_SAMPLES samples over PILOT_STEPS
# steps. Stein is a candidate with at least STEIN_SAMPLES_PER_STEP samples per replica and step (it
# estimates T responses per step from the samples: 256 samples over 200 steps of logistic GD go
# wrong); a Stein run that diverges, or whose replicas disagree at the last step by more than
# UNSTABLE times an observable's size (its median there, at least 1 % of its largest value), is
# solved again with the rule's Jacobians. A run of one replica cannot be checked: no pilot.
PILOT_STEPS, PILOT_SAMPLES, PILOT_REPLICAS = 32, 1024, 4
PILOT_SHARE, STEIN_SAMPLES_PER_STEP, UNSTABLE = 8.0, 4, 0.5
# the pilot sees a shorter horizon and fewer samples, where Stein's disadvantage is smaller: the run
# departs from the rule only for a predicted gain of this factor in error² x time (logistic GD at
# T = 200: Stein predicted 2.3 x better, measured 1.45 x worse; Polyak SGD: predicted 1.6 x better
# and biased by 6 %; Adam: predicted 6.4 x better)
PILOT_MARGIN = 3.0
PILOT_SEED = 1 << 20  # the pilot's streams, whatever the run's seed: the choice does not depend on it
# The cost of a replica of M samples over T steps, in units of the pass's cost per sample and
# step² (eq. glm-cost): M T² + STEP_COST T, plus HISTORY_COST n M_J T³ for n Jacobian histories on
# M_J samples. Fitted to run times of logistic GD (4 x 1024 samples, T = 32, 100, 200; Adam and
# heavy ball agree within 20 %) on the machine of benchmarks/results_estimators.md.
STEP_COST, HISTORY_COST = 8e5, 0.06


def replica_cost(samples: int, steps: int, histories: int = 0, subset: int = 0) -> float:
    """The predicted cost of one replica (eq. glm-cost)."""
    return samples * steps**2 + STEP_COST * steps + HISTORY_COST * histories * subset * steps**3


# --method auto: the spectral solver (O(T) in time) beyond this many steps, where the exact
# closure's O(T³) cost dominates (2000 steps: 53 s, benchmarks/results_data.md)
SPECTRAL_FROM_STEPS = 1000
# --method auto: a Monte-Carlo solve of more steps than this keeps a decimated history
# (docs/math/gaussian_data.md §5.3) where the model allows it; the full pass costs O(T³)
COARSE_FROM_STEPS = 2000
# the samples that carry the data side's Jacobian histories in a decimated history (K² values each)
COARSE_RESPONSE_SAMPLES = 128
# Beyond this many steps a result holds step 0 and DEFAULT_LOG_STEPS log-spaced steps (the
# spectral solver's two-time pass costs O(K²) in the K steps written)
FULL_OUTPUT_STEPS = SPECTRAL_FROM_STEPS
DEFAULT_LOG_STEPS = 256


@dataclass(frozen=True)
class RunSettings:
    steps: int
    samples: int
    seed: int
    dt: float | None
    mode: str  # exact | monte-carlo
    param_method: int  # 0 deterministic Jacobian, 1 Jacobian per sample, 2 Stein
    data_method: int  # 0 Jacobian, 1 Stein
    sampling: str = "sobol"  # sobol | antithetic | plain (dmftc.runtime.random.random_inputs)
    # samples that carry per-sample Jacobian histories (the first of them; all unless the
    # histories would not fit in HISTORY_BUDGET_BYTES)
    response_samples: int = 0
    replica: int = 0  # which independent replica of a Monte-Carlo solve (its random stream)


PARAM_METHODS = ("jacobian (deterministic)", "jacobian (per sample)", "stein")
DATA_METHODS = ("jacobian", "stein")


def runtime_values(plan: DataPlan, params: dict, dt: float | None) -> np.ndarray:
    """The ``params`` array of generated code (``dt`` last for a flow; users cannot name a
    parameter ``dt``)."""
    return np.array([dt if name == "dt" else params[name] for name in plan.parameters], dtype=np.float64)


@dataclass(frozen=True)
class DataConstants:
    """The data model's numbers: samples per dimension, noise variance and, for a mixture, the
    fraction of samples in the outer clusters (teacher data: delta = rho = 1)."""

    alpha: float
    delta: float = 1.0
    rho: float = 1.0


def data_constants(model, params: dict) -> DataConstants:
    args = model.spec.data_args
    values = {name: float(arg.subs(model.values(params))) for name, arg in args.items()}
    data = DataConstants(values["ratio"], values.get("var", 1.0), values.get("rho", 1.0))
    if not data.alpha > 0:
        raise bad_value(model, params, f"the data ratio must be positive, got {data.alpha:g}", args["ratio"])
    if not data.delta > 0:
        raise bad_value(model, params, f"the data variance must be positive, got {data.delta:g}", args["var"])
    if not 0 <= data.rho <= 1:
        raise bad_value(model, params, f"the mixture's rho must be in [0, 1], got {data.rho:g}", args["rho"])
    return data


def clusters(u: np.ndarray, rho: float) -> np.ndarray:
    """Cluster of each sample of mixture data from uniforms u: +1 or -1 with probability rho/2
    each, else 0 (odd about u = 1/2, like :func:`dmftc.runtime.random.law_samples`)."""
    return np.where(np.abs(2 * u - 1) < rho, np.sign(2 * u - 1), 0.0)


def choose_settings(
    plan: DataPlan,
    *,
    steps: int,
    samples: int,
    seed: int,
    dt: float | None,
    mode: str,
    responses: str,
    sampling: str = "sobol",
) -> RunSettings:
    """The run's settings from the options (docs/math/gaussian_data.md §4: estimator choice)."""
    if mode == "exact" and not plan.exact:
        raise SolverError(
            "the exact Gaussian closure does not apply: " + "; ".join(plan.not_exact_because),
            kind="not-exact",
            hint="use --mode monte-carlo (the default, auto, picks it)",
        )
    if mode == "auto":
        mode = "exact" if plan.exact else "monte-carlo"
    if sampling == "sobol":  # a power of 2: the balance of the Sobol points
        samples = 2 ** max(1, round(np.log2(samples)))
    samples += samples % 2  # antithetic pairs
    # A per-sample history is packed lower-triangular, (T+1)(T+2)/2 values; the parameter and
    # data sides have one each. Past the budget only the first samples carry them: a Jacobian
    # response is an average of smooth derivatives, precise with a few thousand samples, where
    # Stein's estimator on all samples is far noisier.
    per_sample = (steps + 1) * (steps + 2) // 2 * 8
    response_samples = min(samples, HISTORY_BUDGET_BYTES // 2 // per_sample // 2 * 2)
    if sampling == "sobol":  # the first 2^k Sobol points are balanced too
        response_samples = 2 ** int(np.log2(max(response_samples, 2)))
    if responses == "jacobian":
        if not (plan.param_smooth and plan.data_smooth):
            raise SolverError(
                "Jacobian responses need pointwise derivatives, which this model lacks (a sign, a step or a hinge)",
                kind="bad-option",
                hint="use --responses stein or auto",
            )
        param_method = 0 if plan.param_deterministic else 1
        data_method = 0
    elif responses == "stein":
        param_method, data_method = 2, 1
    else:
        fits = response_samples >= min(samples, MIN_RESPONSE_SAMPLES)
        if plan.param_deterministic:
            param_method = 0
        elif plan.param_smooth and fits:
            param_method = 1
        else:
            param_method = 2
        data_method = 0 if plan.data_smooth and fits else 1
    return RunSettings(steps, samples, seed, dt, mode, param_method, data_method, sampling, max(response_samples, 2))


def pilot_steps(steps: int) -> int:
    """The pilot's horizon: a quarter of the run, at least PILOT_STEPS (Stein's variance grows
    relative to the Jacobians' with the steps, so the pilot must see a good part of the run)."""
    return min(steps, max(PILOT_STEPS, steps // 4))


def jacobian_histories(settings: RunSettings) -> int:
    """Per-sample Jacobian histories a run carries: one per side that uses Jacobians per sample."""
    return (settings.param_method == 1) + (settings.data_method == 0)


def needs_pilot(settings: RunSettings, replicas: int) -> bool:
    """Whether --responses auto runs the pilot: the rule picked Jacobians, Stein is a candidate,
    there are replicas to check it with, and the run's predicted cost (eq. glm-cost, M_J = M) is
    at least PILOT_SHARE times the pilot's."""
    histories = jacobian_histories(settings)
    T, short, m = settings.steps, pilot_steps(settings.steps), min(settings.samples, PILOT_SAMPLES)
    run = replicas * replica_cost(settings.samples, T, histories, settings.response_samples)
    pilot = PILOT_REPLICAS * (
        3 * replica_cost(m, short, histories, m) + 2 * replica_cost(m // 4, short, histories, m // 4)
    )
    stein = settings.samples >= STEIN_SAMPLES_PER_STEP * T
    return histories > 0 and stein and replicas > 1 and T > PILOT_STEPS and run >= PILOT_SHARE * pilot


def stein_fallback(plan: DataPlan, responses: str, settings: RunSettings, rule: RunSettings) -> RunSettings | None:
    """The settings to solve again with if a run on Stein's responses fails (§4). Where the pilot
    chose Stein, the rule's. Where the rule took Stein on a smooth side because the Jacobian
    histories of all samples do not fit in memory (long runs), Jacobians there on the first
    ``response_samples`` samples. None where the run uses no Stein or ``--responses`` chose it."""
    if responses != "auto" or not (settings.param_method == 2 or settings.data_method == 1):
        return None
    if settings != rule:
        return rule
    fallback = dataclasses.replace(
        settings,
        param_method=(0 if plan.param_deterministic else 1) if plan.param_smooth else settings.param_method,
        data_method=0 if plan.data_smooth else settings.data_method,
    )
    return None if fallback == settings else fallback


def disagree(runs: list[dict]) -> bool:
    """Replicas whose observables at the last step spread by more than UNSTABLE times their
    size (the median there, at least 1 % of the largest value): a failed estimator, not noise."""
    observed = np.array([r["OBS"] for r in runs])
    size = np.maximum(np.abs(np.median(observed[:, -1], axis=0)), 0.01 * np.abs(observed).max(axis=(0, 1)))
    return bool(np.any(observed[:, -1].std(axis=0, ddof=1) > UNSTABLE * size))


def pilot_choice(run, module, settings: RunSettings) -> tuple[RunSettings, str]:
    """Stein's lemma or Jacobians on M_J of the M samples, whichever is cheaper at equal error
    (docs/math/gaussian_data.md §4, eq. glm-cost). The pilot solves its first steps with
    PILOT_REPLICAS replicas of m samples with Stein and with Jacobians on all and on half of the
    samples that may carry them, and with m/4 samples for both estimators. Per observable and
    step, a run's squared error is its variance, A/M + B/M_J (Jacobians) or S/M (Stein), plus its
    squared bias of order 1/M, from the difference between m/4 and m samples (Richardson:
    b/(m/4) - b/m = 3 b/m, its sampling noise removed); summed over the steps, it is weighed with
    the cost of :func:`replica_cost`, and the error of a choice is the geometric mean over the
    observables of its squared error relative to Stein's. The run departs from the rule only
    where that predicts a gain of PILOT_MARGIN or more. Returns the settings and a sentence for
    the attributes."""
    m = min(settings.samples, PILOT_SAMPLES)
    M, T = settings.samples, settings.steps
    full = settings.response_samples * m // M  # the pilot's samples with Jacobians, as in the run
    short = pilot_steps(T)
    pilot = dataclasses.replace(settings, samples=m, seed=PILOT_SEED, steps=short)
    stein = dataclasses.replace(settings, param_method=2, data_method=1)
    candidates = {
        "stein": dataclasses.replace(pilot, param_method=2, data_method=1),
        "stein/4": dataclasses.replace(pilot, param_method=2, data_method=1, samples=m // 4),
        "all": dataclasses.replace(pilot, response_samples=max(full, 2)),
        "all/4": dataclasses.replace(pilot, samples=m // 4, response_samples=max(full // 4, 2)),
        "half": dataclasses.replace(pilot, response_samples=max(full // 2, 2)),
    }
    observed = {}
    for name, s in candidates.items():
        try:
            runs = [run(module, dataclasses.replace(s, replica=r), None) for r in range(PILOT_REPLICAS)]
            observed[name] = np.array([r["OBS"][1:] for r in runs])  # (replica, step, observable)
        except SolverError:  # this estimator diverges within the pilot
            observed[name] = None
    said = f"pilot ({PILOT_REPLICAS} x {m} samples, {short} steps)"
    if observed["stein"] is None or observed["stein/4"] is None:
        return settings, f"{said}: Stein's estimator diverged; Jacobians"
    if any(observed[name] is None for name in ("all", "all/4", "half")):
        return stein, f"{said}: the Jacobian estimator diverged; Stein"
    mean = {name: o.mean(axis=0) for name, o in observed.items()}  # (step, observable)
    var = {name: o.var(axis=0, ddof=1) for name, o in observed.items()}

    def bias2(name):  # the squared 1/M bias at M samples, less the noise of its estimate
        b = (mean[name + "/4"] - mean[name]) / 3 * m / M
        noise = (var[name + "/4"] + var[name]) / PILOT_REPLICAS / 9 * (m / M) ** 2
        return np.maximum(b**2 - noise, 0.0)

    B = np.maximum(var["half"] - var["all"], 0.0) * full  # variance = A/m + B/M_J at the pilot
    A = np.maximum(var["all"] - B / full, 0.0) * m
    error_S = (var["stein"] * m / M + bias2("stein")).sum(axis=0)  # per observable

    def error_J(subset):
        return (A / M + B / subset + bias2("all")).sum(axis=0)

    histories = jacobian_histories(settings)
    random = error_S + error_J(settings.response_samples) > 0  # the observables that vary
    costs = {"stein": 1.0}  # error² x time relative to Stein's
    for subset in (settings.response_samples, settings.response_samples // 2):
        ratio = np.maximum(error_J(subset)[random], 1e-300) / np.maximum(error_S[random], 1e-300)
        costs[subset] = np.exp(np.mean(np.log(ratio))) * replica_cost(M, T, histories, subset) / replica_cost(M, T)
    best = min(costs, key=costs.get)
    rule = costs[settings.response_samples]
    if costs[best] * PILOT_MARGIN > rule:  # not clearly better than the rule: keep it
        return settings, f"{said}: the rule (Stein at {1 / rule:.2g} x its error² x time)"
    if best == "stein":
        return stein, f"{said}: Stein, {rule:.2g} x cheaper at equal error than the rule"
    note = f"{said}: Jacobians on {best} samples, {rule / costs[best]:.2g} x cheaper than the rule"
    return dataclasses.replace(settings, response_samples=best), note


def choose_method(plan: DataPlan, model, method: str, mode: str, steps: int, averaging_sources) -> str:
    """``dmft`` (the closure or Monte Carlo), ``spectral`` (docs/math/gaussian_data.md §5.2) or
    ``coarse`` (Monte Carlo on a decimated history, §5.3); ``mode`` is the resolved one (exact
    or monte-carlo)."""
    if method == "coarse":
        if plan.not_coarse_because:
            raise SolverError(
                f"--method coarse does not apply: {'; '.join(plan.not_coarse_because)}", kind="not-available"
            )
        if mode != "monte-carlo":
            raise SolverError(
                "--method coarse is a Monte-Carlo solve", kind="bad-option", hint="add --mode monte-carlo"
            )
        return "coarse"
    if method == "auto" and mode == "monte-carlo" and steps > COARSE_FROM_STEPS and not plan.not_coarse_because:
        return "coarse"
    why_not = not_spectral_because(plan, model)
    if method == "spectral":
        if why_not:
            raise SolverError(f"the spectral solver does not apply: {why_not}", kind="not-available")
        if mode != "exact":
            raise SolverError("--method spectral has no sampling: leave out --mode monte-carlo", kind="bad-option")
        if averaging_sources:
            raise SolverError("--average-over needs the DMFT closure", kind="bad-option", hint="add --method dmft")
        return "spectral"
    if method == "auto" and not why_not and mode == "exact" and not averaging_sources and steps > SPECTRAL_FROM_STEPS:
        return "spectral"
    return "dmft"


def written_steps(steps: int, log_steps: int | None) -> np.ndarray:
    """The steps a result holds: every one, or step 0 and log-spaced steps (``--log-steps``)."""
    if log_steps is None and steps > FULL_OUTPUT_STEPS:
        log_steps = DEFAULT_LOG_STEPS
    return output_steps(steps, log_steps)


# --------------------------------------------------------------------------- random inputs


def selection_weights(
    model, params: dict, T: int, n: int, rng: np.random.Generator, dt: float | None, u: np.ndarray | None = None
) -> np.ndarray:
    """s(t)/b for every sample and step: which samples are in the step's batch (docs/language.md §2).
    ``u``: uniforms (T+1, n) to decide with (quasi-random ones in the solver; default: drawn)."""
    batch = model.spec.batch
    if batch is None:
        return np.ones((T + 1, n))
    if u is None and batch.kind != "size":
        u = rng.random((T + 1, n))
    values = [float(a.subs({p.symbol: params[p.name] for p in model.params})) for a in batch.args]
    b = values[0]
    if batch.kind == "size":  # B samples a step, uniformly with replacement, each weighted n/B
        size = round(b)
        if size < 1 or abs(size - b) > 1e-9:
            raise bad_value(model, params, f"the batch size must be a positive integer, got {b:g}", *batch.args)
        picks = rng.integers(0, n, size=(T + 1, size))
        counts = np.stack([np.bincount(row, minlength=n) for row in picks])
        return counts * (n / size)
    if not 0 < b <= 1:
        raise bad_value(model, params, f"the batch fraction must be in (0, 1], got {b:g}", *batch.args)
    if batch.kind == "fraction":
        return (u < b) / b
    if batch.kind == "epochs":
        period = round(1 / b)
        if abs(period - 1 / b) > 1e-9:
            raise bad_value(model, params, f"batch epochs needs 1/b to be an integer, got 1/b = {1 / b:g}", *batch.args)
        phase = np.minimum(np.floor(u[0] * period), period - 1)
        return (np.arange(T + 1)[:, None] % period == phase[None, :]) * float(period)
    # persistent(b, tau): a two-state chain per sample, time per step lr (or dt for a flow)
    tau = values[1]
    step_time = dt if model.time == "continuous" else params.get("lr")
    if step_time is None:
        raise SolverError("batch persistent(b, tau) needs a parameter 'lr' (the time per step)", kind="bad-parameter")
    up, down = step_time / tau, (1 - b) * step_time / (b * tau)
    if up > 1 or down > 1:
        raise bad_value(
            model,
            params,
            f"batch persistent: switching probabilities per step {up:.3g}, {down:.3g} "
            "exceed 1 (tau too small for this step)",
            *batch.args,
        )
    s = np.empty((T + 1, n))
    s[0] = u[0] < b
    for t in range(T):
        s[t + 1] = np.where(s[t] > 0, u[t + 1] >= down, u[t + 1] < up)
    return s / b


def quadrature_rule(uses_eps: bool, smooth: bool) -> tuple[np.ndarray, np.ndarray]:
    """Nodes (standard normal coordinates of (h, h*, eps)) and weights for test() and exact
    train() expectations: Gauss–Hermite for smooth integrands, scrambled Sobol points (fixed
    seed) for integrands with steps or kinks."""
    dims = 3 if uses_eps else 2
    if smooth:
        x, w = np.polynomial.hermite_e.hermegauss(40 if dims == 2 else 20)
        w = w / np.sqrt(2 * np.pi)
        grids = np.meshgrid(*([x] * dims), indexing="ij")
        weights = np.prod(np.meshgrid(*([w] * dims), indexing="ij"), axis=0).ravel()
        nodes = np.stack([g.ravel() for g in grids], axis=1)
    else:
        from scipy.special import ndtri  # the normal quantile; scipy.stats only when needed (start-up)
        from scipy.stats import qmc

        points = qmc.Sobol(d=dims, scramble=True, seed=12345).random_base2(16)
        nodes = ndtri(points)
        weights = np.full(len(nodes), 1.0 / len(nodes))
    if dims == 2:
        nodes = np.concatenate([nodes, np.zeros((len(nodes), 1))], axis=1)
    return np.ascontiguousarray(nodes), weights


# ------------------------------------------------------------------------------------ solve


def solve(compiled, params: dict, options: dict, progress=None):
    """Solve the DMFT of a gaussian_data model; returns an ``xarray.Dataset``.

    ``options`` (resolved by :mod:`dmftc.options`): steps, samples, seed, dt, mode, responses,
    sampling, average_over (exact mode: sources to average the predictor over, adding
    ``<name>_bias`` and ``<name>_variance``, :mod:`dmftc.classes.gaussian_data.bias_variance`),
    method (dmft or the spectral solver of linear models, :func:`choose_method`) and log_steps
    (the steps written, :func:`written_steps`)."""
    model = compiled.model
    if model.spec.batch is not None and model.spec.batch.kind == "size":
        raise SolverError(
            "a batch of fixed size B has no DMFT limit at fixed lr (the gradient noise of a coordinate grows with n/B)",
            kind="not-available",
            hint="'dmftc derive --sde' gives its small-step diffusion limit; 'dmftc simulate' runs it",
        )
    steps = options["steps"]
    source, plan = compiled.generated
    replicas = options["replicas"]
    settings = choose_settings(
        plan,
        steps=steps,
        # Monte Carlo: the samples are split into independent replicas (their spread is the error)
        samples=max(2, options["samples"] // replicas),
        seed=options["seed"],
        dt=options["dt"],
        mode=options["mode"],
        responses=options["responses"],
        sampling=options["sampling"],
    )
    sources = averaging.parse_sources(options["average_over"], bias_variance.DATA_SOURCES)
    if sources and settings.mode != "exact":
        raise SolverError("--average-over needs the exact closure (a linear model)", kind="bad-option")
    method = choose_method(plan, model, options["method"], settings.mode, steps, sources)
    out = written_steps(steps, options["log_steps"])
    resolution = options["history_resolution"]
    values = runtime_values(plan, params, settings.dt)
    data = data_constants(model, params)
    nodes, weights = quadrature_rule(plan.uses_eps, plan.test_smooth)
    if method == "spectral":

        def run(module, s: RunSettings, progress):
            written = out if s.steps == steps else np.arange(s.steps + 1)
            return run_spectral(module, plan, model, values, data, nodes, weights, s.steps, written, progress)

    elif method == "coarse":
        if options["responses"] == "stein":
            raise SolverError("--method coarse takes its responses from Jacobians", kind="bad-option")
        settings = dataclasses.replace(
            settings, param_method=0, data_method=0, response_samples=min(settings.samples, COARSE_RESPONSE_SAMPLES)
        )

        def run(module, s: RunSettings, progress):
            written = out if s.steps == steps else np.arange(s.steps + 1)
            return _run_coarse(module, plan, model, values, data, nodes, weights, s, written, resolution, progress)

    else:
        run_pass = _run_exact if settings.mode == "exact" else _run_monte_carlo

        def run(module, s: RunSettings, progress):
            return run_pass(module, plan, model, params, values, data, nodes, weights, s, progress)

    # The generated code is serial; its matrix-vector products are fastest on one BLAS thread.
    started = time.perf_counter()
    with threadpool_limits(limits=1, user_api="blas"):
        # compile on a tiny problem first, so that compile and run times are reported apart
        tiny = dataclasses.replace(settings, steps=2, samples=4, seed=0, response_samples=4)

        def warm_up(module):
            with contextlib.suppress(SolverError):  # a divergence is reported by the real run
                run(module, tiny, None)

        compiled.first_call(warm_up)
        module = compiled.module
        compiled_at = time.perf_counter()
        choice = None
        if settings.mode == "exact":
            arrays = run(module, settings, progress)
        else:
            rule = settings
            if options["responses"] == "auto" and needs_pilot(rule, replicas):
                settings, choice = pilot_choice(run, module, rule)
                log.info("%s: %s", model.name, choice)

            def replicated(s: RunSettings) -> list[dict]:
                return [run(module, dataclasses.replace(s, replica=r), progress) for r in range(replicas)]

            fallback = stein_fallback(plan, options["responses"], settings, rule)
            try:
                runs = replicated(settings)
                failed = fallback is not None and disagree(runs)
            except SolverError:
                if fallback is None:
                    raise
                failed = True
            if failed:  # Stein can go wrong where Jacobians do not (§4)
                log.warning(
                    "%s: Stein's responses failed (divergence or disagreeing replicas); solving again with Jacobians",
                    model.name,
                )
                why = choice or "Stein's responses (the rule: the Jacobian histories of all samples exceed the memory)"
                settings, samples_j = fallback, fallback.response_samples
                choice = f"{why}; it failed over the whole run, Jacobians on {samples_j} samples instead"
                runs = replicated(settings)
            arrays = _replicated(runs)
        finished = time.perf_counter()
    timings = compiled.timings | {
        "compile": compiled.timings.get("compile", 0.0) + compiled_at - started,
        "run": finished - compiled_at,
    }
    log.info("%s: %s (%s, %s, %d steps)", source.filename, _timing_text(timings), settings.mode, method, steps)

    time_step = settings.dt if model.time == "continuous" else 1.0
    obs = arrays.pop("OBS")
    observables = {name: obs[:, j] for j, name in enumerate(plan.observables)}
    sem = {name: arrays["OBS_sem"][:, j] for j, name in enumerate(plan.observables)} if "OBS_sem" in arrays else None
    if sources:
        observables |= averaging.split(
            observables,
            bias_variance.mean_predictor(module, plan, model, values, data, nodes, weights, arrays, sources),
        )
    # the spectral solver and the decimated history return the written steps only, the others
    # every step
    only_written = method in ("spectral", "coarse")
    pick = (lambda x: x) if only_written else (lambda x: x[out])
    grid = (slice(None), slice(None)) if only_written else np.ix_(out, out)
    two_time = {
        "C_theta": arrays["C_th"][1:, 1:][grid],
        "R_theta": arrays["R_th"][grid],
        "C_g": arrays["C_g"][grid],
        "R_g": arrays["R_g"][grid],
    }
    # the teacher column: its response (teacher data) or the force E[c g] along the cluster
    # direction (mixture data)
    series = {
        "C_theta_teacher": pick(arrays["C_th"][1:, 0]),
        ("E_cluster_g" if plan.mixture else "R_g_teacher"): pick(arrays["R_gs"]),
    }
    setting_attrs = {
        "steps": steps,
        "mode": settings.mode,
        "method": method,
        "seed": settings.seed,
        "dt": settings.dt,
        "average_over": ",".join(sources) or None,
        "teacher_second_moment": float(arrays["C_th"][0, 0]),
        "written_steps": "all" if len(out) == steps + 1 else f"step 0 and {len(out) - 1} log-spaced",
    }
    if method == "spectral":
        setting_attrs["spectral_nodes"] = arrays["nodes"]
    if method == "coarse":
        setting_attrs["history_resolution"] = resolution
        setting_attrs["history_slots"] = int(arrays.pop("slots"))
    if settings.mode == "monte-carlo":
        setting_attrs |= {
            "samples": settings.samples * replicas,
            "replicas": replicas,
            "error_estimate": f"standard error over {replicas} independent replicas of {settings.samples} samples",
            "sampling": settings.sampling,
            "responses_parameter_side": PARAM_METHODS[settings.param_method],
            "responses_data_side": DATA_METHODS[settings.data_method],
            "response_samples": settings.response_samples,
            "responses_choice": choice or "rule (docs/math/gaussian_data.md §4)",
        }
    attrs = run_attributes(
        kind="dmft",
        model=model,
        params=params,
        settings=setting_attrs,
        timings=timings,
    )
    return make_dataset(
        {name: pick(values_) for name, values_ in observables.items()},
        out * time_step,
        steps=out,
        sem=sem and {name: pick(values_) for name, values_ in sem.items()},
        two_time=two_time,
        series=series,
        attrs=attrs,
    )


def _replicated(runs: list[dict]) -> dict:
    """The mean over independent replicas of every array, and ``OBS_sem``: the standard error of
    the observables' mean (the replicas' spread over the square root of their number)."""
    out = {key: np.mean([run[key] for run in runs], axis=0) for key in runs[0]}
    if len(runs) > 1:
        out["OBS_sem"] = np.std([run["OBS"] for run in runs], axis=0, ddof=1) / np.sqrt(len(runs))
    return out


def _timing_text(timings: dict) -> str:
    return ", ".join(f"{stage} {seconds:.2f} s" for stage, seconds in timings.items())


def _draw_inputs(plan, model, s: RunSettings, data: DataConstants, rng):
    """The random inputs of a Monte-Carlo replica: primitives PRIM, the parameter side's XI_P and
    NOISE, the data side's XI_D (row 0 the teacher's), EPS, XI_O (the look-ahead's), the
    clusters of mixture data and the uniforms of the batch selections (None without batches).
    Sobol coordinates in the order measured best (docs/math/gaussian_data.md §5.1): parameter
    side: non-normal primitives, ν(t) in time order, noises, normal primitives; data side: the
    cluster, the batch selections, ω(t) in time order, ε, the look-ahead's ω."""
    T, M = s.steps, s.samples
    laws = plan.primitive_laws
    normal = [j for j, law in enumerate(laws) if law == "normal"]
    other = [j for j, law in enumerate(laws) if law != "normal"]
    n_noise = (T + 1) * plan.n_noise
    u, param_side = random_inputs(rng, s.sampling, M, len(other), len(normal) + T + 1 + n_noise)
    PRIM = np.empty((M, len(laws)))
    PRIM[:, other] = law_samples(tuple(laws[j] for j in other), u)
    XI_P = param_side[: T + 1]
    NOISE = np.ascontiguousarray(param_side[T + 1 : T + 1 + n_noise].reshape(T + 1, plan.n_noise, M).transpose(0, 2, 1))
    PRIM[:, normal] = param_side[T + 1 + n_noise :].T
    selected = model.spec.batch is not None
    u, data_side = random_inputs(
        rng, s.sampling, M, int(plan.mixture) + (T + 1) * selected, T + 3 + (T + 1 if plan.look_ahead else 0)
    )
    CLUSTER = clusters(u[0], data.rho) if plan.mixture else np.zeros(M)
    XI_O = data_side[T + 3 :] if plan.look_ahead else np.zeros((1, M))
    u_sel = u[int(plan.mixture) :] if selected else None
    return PRIM, XI_P, NOISE, data_side[: T + 2], data_side[T + 2], XI_O, CLUSTER, u_sel


def _initial_state(module, plan, values, PRIM, XI_D0, CLUSTER, EPS, n_fields) -> dict:
    """The coordinates Z (and Z_NEXT), the teacher WSTAR, the latent variables and labels of the
    samples, and C_th, L_th over n_fields fields with the teacher's entry [0, 0] set."""
    M, k = PRIM.shape[0], len(plan.coordinates)
    state = dict(
        Z=np.zeros((M, k)),
        Z_NEXT=np.zeros((M, k)),
        WSTAR=np.zeros(M),
        LATENT=np.zeros(M),
        Y=np.zeros(M),
        C_th=np.zeros((n_fields, n_fields)),
        L_th=np.zeros((n_fields, n_fields)),
    )
    plan.entry["initialize"].call(
        module,
        PRIM=PRIM,
        XI_D0=XI_D0,
        CLUSTER=CLUSTER,
        EPS=EPS,
        params=values,
        **{key: state[key] for key in ("Z", "WSTAR", "LATENT", "Y", "C_th", "L_th")},
    )
    return state


def _run_monte_carlo(
    module, plan, model, params, values, data: DataConstants, nodes, weights, s: RunSettings, progress
):
    T, M = s.steps, s.samples
    k = len(plan.coordinates)
    rng = np.random.default_rng([s.seed, s.replica])
    PRIM, XI_P, NOISE, XI_D, EPS, XI_O, CLUSTER, u_sel = _draw_inputs(plan, model, s, data, rng)
    SEL = selection_weights(model, params, T, M, rng, s.dt, u_sel)
    n_agg = len(plan.train) + len(plan.test) + len(plan.mean)
    MR = s.response_samples
    packed = MR * (T + 1) * (T + 2) // 2
    a = _initial_state(module, plan, values, PRIM, XI_D[0], CLUSTER, EPS, T + 2) | dict(
        TH=np.zeros((T + 1, M)),
        G=np.zeros((T + 1, M)),
        H=np.zeros(M),
        H_OBS=np.zeros(M),
        C_g=np.zeros((T + 1, T + 1)),
        L_g=np.zeros((T + 1, T + 1)),
        R_th=np.zeros((T + 1, T + 1)),
        R_g=np.zeros((T + 1, T + 1)),
        R_gs=np.zeros(T + 1),
        R_obs=np.zeros(T + 1),
        DZ=np.zeros((T + 1, k, MR) if s.param_method == 1 else (1, k, 1)),
        DTH=np.zeros(packed if s.param_method == 1 else 1),
        dz=np.zeros((T + 1, k)),
        dth=np.zeros((T + 1, T + 1)),
        DG=np.zeros(packed if s.data_method == 0 else 1),
        DGS=np.zeros((T + 1, MR) if s.data_method == 0 else (1, 1)),
        AGG=np.zeros((T + 1, n_agg)),
        OBS=np.zeros((T + 1, len(plan.observables))),
    )
    inputs = dict(
        params=values,
        alpha=data.alpha,
        delta=data.delta,
        mix_rho=data.rho,
        param_method=s.param_method,
        data_method=s.data_method,
        XI_P=XI_P,
        XI_D=XI_D,
        XI_O=XI_O,
        EPS=EPS,
        SEL=SEL,
        NOISE=NOISE,
        nodes=nodes,
        weights=weights,
    )
    task = progress_task(progress, f"solving {model.name} (replica {s.replica + 1})", T + 1)
    for t0, t1 in chunks(T):
        status = plan.entry["forward_pass"].call(module, t0=t0, t1=t1, **inputs, **a)
        if status >= 0:  # in the order a step computes them (the update of step status - 1 first)
            raise diagnose(
                model,
                status,
                [
                    ("the weights and states after the update (site_step)", a["Z"]),
                    ("the query point θ (theta_query)", a["TH"][status]),
                    ("the correlation C_θ", a["C_th"][status + 1, : status + 2]),
                    ("the prediction h", a["H"]),
                    ("the loss gradient g (loss_grad)", a["G"][status]),
                    ("the correlation C_g", a["C_g"][status, : status + 1]),
                    ("the response R_g", a["R_g"][status, : status + 1]),
                    *((f"the observable {name}", a["OBS"][status, j]) for j, name in enumerate(plan.observables)),
                ],
                previous_scale=abs(a["C_th"][status, status]),  # C_θ at the step before
                hint=_stein_hint(plan, s),
            )
        advance(progress, task, t1)
    return {key: a[key] for key in ("OBS", "C_th", "C_g", "R_th", "R_g", "R_gs")}


def _stein_hint(plan: DataPlan, s: RunSettings) -> str | None:
    """The hint of a divergence on Stein's responses where Jacobians were possible: the estimator
    can be the cause (§4), not only the learning rate. None: the default hint."""
    stein_by_choice = (s.param_method == 2 and plan.param_smooth) or (s.data_method == 1 and plan.data_smooth)
    if not stein_by_choice:
        return None
    return "the learning rate may be too large, or Stein's responses unstable here: try --responses jacobian"


def slots_bound(steps: int, written: int, resolution: float) -> int:
    """At most how many slots a decimated history keeps (§5.3; the generated count_slots gives
    the exact number): the written steps and about 3/resolution per e-fold of time (measured
    from 100 to 10⁵ steps and resolutions 0.025 to 0.2)."""
    return min(steps + 1, written + int(3 / resolution * (1 + np.log1p(resolution * steps / 2))) + 2)


def _run_coarse(
    module, plan, model, values, data: DataConstants, nodes, weights, s: RunSettings, written, resolution, progress
):
    """The Monte-Carlo pass on a decimated history (docs/math/gaussian_data.md §5.3): the arrays
    of :func:`_run_monte_carlo` at the written steps only, and ``slots``, the most steps it
    keeps at once."""
    T, M = s.steps, s.samples
    k = len(plan.coordinates)
    rng = np.random.default_rng([s.seed, s.replica])
    # the inputs of _run_monte_carlo (these models have no noises, selections or look-ahead)
    PRIM, XI_P, _, XI_D, EPS, _, CLUSTER, _ = _draw_inputs(plan, model, s, data, rng)
    W = len(written)
    WIDX = np.full(T + 1, -1, dtype=np.int64)
    WIDX[written] = np.arange(W)
    K = module.count_slots(T, WIDX, resolution)
    MR = s.response_samples
    n_agg = len(plan.train) + len(plan.test) + len(plan.mean)
    state = _initial_state(module, plan, values, PRIM, XI_D[0], CLUSTER, EPS, K + 1)
    a = dict(
        NS=np.zeros(1, dtype=np.int64),
        SID=np.zeros(K, dtype=np.int64),
        FREE=np.arange(K, dtype=np.int64)[::-1].copy(),  # identities 0, 1, 2, ... in order
        NF=np.array([K], dtype=np.int64),
        STEP=np.zeros(K, dtype=np.int64),
        PIN=np.zeros(K, dtype=np.bool_),
        TH=np.zeros((K, M)),
        NU=np.zeros((K, M)),
        OM=np.zeros((K, M)),
        G=np.zeros((K, M)),
        Cd=state.pop("C_th"),  # the row of the newest step (the only one used)
        Dd=np.zeros(K + 1),  # the diagonal, over (*, slots)
        Ct=np.zeros(K),  # the teacher column, over the slots
        Ld=state.pop("L_th"),
        Cg=np.zeros((K, K)),
        Dg=np.zeros(K),
        Lg=np.zeros((K, K)),
        R_th=np.zeros(K),
        R_g=np.zeros(K),
        dz=np.zeros((K, k)),
        dth=np.zeros((K, K)),
        dth_next=np.zeros(K),
        DG=np.zeros((K, K, MR)),
        DGS=np.zeros((K, MR) if plan.label_smooth else (1, 1)),
        R_gs=np.zeros(T + 1),
        C_ths=np.zeros(T + 1),
        AGG=np.zeros((T + 1, n_agg)),
        OBS=np.zeros((T + 1, len(plan.observables))),
        C_thw=np.zeros((W, W)),
        C_gw=np.zeros((W, W)),
        R_thw=np.zeros((W, W)),
        R_gw=np.zeros((W, W)),
    )
    a |= state
    a["Dd"][0] = a["Cd"][0, 0]  # the teacher's second moment
    inputs = dict(
        params=values,
        alpha=data.alpha,
        delta=data.delta,
        resolution=resolution,
        XI_P=XI_P,
        XI_D=XI_D,
        EPS=EPS,
        nodes=nodes,
        weights=weights,
        WIDX=WIDX,
    )
    task = progress_task(progress, f"solving {model.name} (replica {s.replica + 1}, decimated history)", T + 1)
    for t0, t1 in chunks(T):
        status = plan.entry["forward_pass_coarse"].call(module, t0=t0, t1=t1, **inputs, **a)
        check_status(status, model, plan.observables, a["OBS"])
        advance(progress, task, t1)
    C_th = np.zeros((W + 1, W + 1))
    C_th[0, 0] = a["Dd"][0]
    C_th[1:, 0] = C_th[0, 1:] = a["C_ths"][written]
    C_th[1:, 1:] = a["C_thw"]
    return {
        "OBS": a["OBS"][written],
        "C_th": C_th,
        "C_g": a["C_gw"],
        "R_th": a["R_thw"],
        "R_g": a["R_gw"],
        "R_gs": a["R_gs"][written],
        "slots": np.array(K),
    }


def _run_exact(module, plan, model, params, values, data: DataConstants, nodes, weights, s: RunSettings, progress):
    T = s.steps
    k = len(plan.coordinates)
    laws = plan.primitive_laws
    P1 = 1 + len(laws)
    prim_mean, G0 = raw_moments(laws)
    B = P1 + (T + 1) + (T + 1) * plan.n_noise
    D = T + 4
    E = np.zeros((k + 1, P1))
    module.initial_affine(values, E)
    ZC = np.zeros((k, B))
    ZC[:, :P1] = E[:k]
    WSC = np.zeros(B)
    WSC[:P1] = E[k]
    n_agg = len(plan.train) + len(plan.test) + len(plan.mean)
    a = dict(
        THC=np.zeros((T + 1, B)),
        TOC=np.zeros(B),
        GC=np.zeros((T + 1, D)),
        C_th=np.zeros((T + 2, T + 2)),
        C_g=np.zeros((T + 1, T + 1)),
        R_th=np.zeros((T + 1, T + 1)),
        R_g=np.zeros((T + 1, T + 1)),
        R_gs=np.zeros(T + 1),
        AGG=np.zeros((T + 1, n_agg)),
        OBS=np.zeros((T + 1, len(plan.observables))),
        ZH=np.zeros((T + 1, k, B)),
    )
    a["C_th"][0, 0] = WSC[:P1] @ G0 @ WSC[:P1]
    task = progress_task(progress, f"solving {model.name}", T + 1)
    for t0, t1 in chunks(T):
        status = plan.entry["forward_pass_exact"].call(
            module,
            t0=t0,
            t1=t1,
            params=values,
            alpha=data.alpha,
            G0=G0,
            prim_mean=prim_mean,
            nodes=nodes,
            weights=weights,
            ZC=ZC,
            WSC=WSC,
            **a,
        )
        check_status(status, model, plan.observables, a["OBS"])
        advance(progress, task, t1)
    # the coefficient histories too, for averages over subsets of the inputs (bias_variance.py)
    return {key: a[key] for key in ("OBS", "C_th", "C_g", "R_th", "R_g", "R_gs", "THC", "GC", "ZH")} | {
        "WSC": WSC,
        "G0": G0,
        "prim_mean": prim_mean,
    }
