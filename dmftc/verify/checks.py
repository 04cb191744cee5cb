"""``dmftc verify``: checks that a derivation is right, symbolic where possible.

Each check returns a :class:`Check` (name, status, detail). Symbolic checks compare sympy
expressions (a difference that simplifies to zero); numeric checks solve the model briefly or
evaluate the generated code at random points. A check that does not apply to a model says so
(``n/a``) with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sympy as sp
from scipy import integrate

from dmftc.language import nodes as n
from dmftc.analysis.driver import GAUSSIAN_DATA, GAUSSIAN_FIELD, LINEAR_SYSTEM
from dmftc.errors import DmftcError, ModelError, did_you_mean
from dmftc.language.expressions import to_sympy
from dmftc.language.symbols import CLUSTER, DATA_FIELD, DT, EPS, HSTAR, SELECTION, STEP, grad_symbol
from dmftc.language.syntax import parse, read_model_text

PASS, FAIL, NA = "pass", "fail", "n/a"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # pass | fail | n/a
    detail: str


def verify(dm, against: Path | None = None) -> list[Check]:
    """Run every check that applies to the loaded model ``dm`` (a :class:`dmftc.api.DMFTModel`)."""
    checks = []
    if against is not None:
        checks += published_form(dm, against)
    checks += [momentum_reduces_to_gd(dm), learning_rate_limit(dm), zero_learning_rate(dm),
               causal_closure(dm), fluctuation_dissipation(dm)]
    if dm.model.disorder == GAUSSIAN_DATA:
        checks += [resolvent(dm), generated_code(dm)]
    if dm.model.disorder == LINEAR_SYSTEM:
        from dmftc.classes.linear_system.verify import linear_system_checks  # it imports this module

        checks += linear_system_checks(dm)
    return checks


def _learning_rate(model) -> sp.Symbol | None:
    if model.time == "continuous":
        return DT
    return next((p.symbol for p in model.params if p.name == "lr"), None)


def _simplifies_to_zero(expr: sp.Expr) -> bool:
    return sp.simplify(sp.expand(expr)) == 0


# ------------------------------------------------------------------------------- symbolic


def momentum_reduces_to_gd(dm) -> Check:
    """With beta = 0 every weight moves by plain gradient descent, w - lr grad(w), at the
    iterate, whatever the states do."""
    name = "momentum with beta = 0 is gradient descent"
    model = dm.model
    beta = next((p.symbol for p in model.params if p.name == "beta"), None)
    lr = _learning_rate(model)
    if beta is None or lr is None or model.time != "discrete":
        return Check(name, NA, "needs a discrete update with parameters 'beta' and 'lr'")
    weights = {w.symbol for w in model.weights}
    failures = []
    for w in model.weights:
        update = model.step_map[w.symbol].subs(beta, 0)
        # a linear system's "gradient" is its matrix product (dmftc/analyse_linear.py)
        expected = w.symbol - lr * (model.system.product if model.system else grad_symbol(w.name))
        point = {k: v.subs(beta, 0) for k, v in model.grad_point.items()}
        if not _simplifies_to_zero(update - expected):
            failures.append(f"{w.name}(t+1) = {sp.sstr(update)}, expected {sp.sstr(expected)}")
        elif any(not _simplifies_to_zero(v - k) for k, v in point.items() if k in weights):
            failures.append(f"grad() is taken at {point}, not at the iterate")
    if failures:
        return Check(name, FAIL, "; ".join(failures))
    return Check(name, PASS, "the weights' update at beta = 0 is w - lr grad(w) at the iterate")


def learning_rate_limit(dm) -> Check:
    """lr -> 0 of a discrete update is a flow: F(z) = z + lr V(z) + O(lr^2); reports V."""
    name = "lr -> 0 of the update is a flow"
    model = dm.model
    lr = _learning_rate(model)
    if lr is None or model.time != "discrete":
        return Check(name, NA, "needs a discrete update with a parameter 'lr'")
    flows, failures = [], []
    for v in model.coordinates:
        update = model.step_map[v.symbol]
        if not _simplifies_to_zero(update.subs(lr, 0) - v.symbol):
            failures.append(f"{v.name} moves at lr = 0 ({sp.sstr(update.subs(lr, 0))}): its limit is "
                            "not a first-order flow (momentum has a mass term)")
            continue
        velocity = sp.simplify(sp.diff(update, lr).subs(lr, 0))
        flows.append(f"d{v.name}/dt = {sp.sstr(velocity)}")
    if failures:
        return Check(name, NA, "; ".join(failures))
    return Check(name, PASS, ", ".join(flows))


def published_form(dm, path: Path) -> list[Check]:
    """Compare the derived equations with a file of published ones (``name = expression`` a
    line): coordinates (their value after one step), ``theta`` (the query point), ``g`` (the
    loss gradient of the data side, ``sel`` its batch weight), the label's name, ``grad_<w>``.
    The right-hand sides may use the model's names and ``Xtg`` (the data field (X^T g)_i)."""
    model = dm.model
    text = read_model_text(Path(path))
    try:
        equations = parse(text, str(path), start="equations")
    except DmftcError as e:
        raise e.with_source(str(path), text) from None
    derived = _derived_quantities(dm)
    names = {p.name: p.symbol for p in model.params}
    names |= {v.name: v.symbol for v in model.coordinates}
    if model.teacher:
        names[model.teacher.name] = model.teacher.symbol
    names |= {"Xtg": DATA_FIELD, "sel": SELECTION, "t": STEP, "dt": DT, "hstar": HSTAR, "eps": EPS,
              "c": CLUSTER}
    if model.predict_name:
        names[model.predict_name] = model.h
    if model.label_name:
        names[model.label_name] = model.y

    def resolve(node: n.Name) -> sp.Expr:
        if node.id not in names:
            raise ModelError(f"unknown name '{node.id}'", node.loc, kind="undefined-name",
                             hint=did_you_mean(node.id, names)).with_source(str(path), text)
        return names[node.id]

    checks = []
    for eq in equations:
        if eq.name not in derived:
            raise ModelError(f"'{eq.name}' is not a derived quantity", eq.loc, kind="undefined-name",
                             hint=did_you_mean(eq.name, derived)
                             or "derived quantities: " + ", ".join(derived)).with_source(str(path), text)
        given = to_sympy(eq.value, resolve)
        ours = derived[eq.name]
        if not given.has(SELECTION):
            ours = ours.subs(SELECTION, 1)
        difference = sp.simplify(sp.expand(ours - given))
        title = f"{eq.name} equals the published form"
        if difference == 0:
            checks.append(Check(title, PASS, f"{eq.name} = {sp.sstr(given)}"))
        else:
            terms = sp.Add.make_args(sp.expand(ours - given))
            checks.append(Check(title, FAIL, f"derived {sp.sstr(ours)}; published {sp.sstr(given)}; "
                                             f"derived - published = {' + '.join(map(sp.sstr, terms))}"))
    return checks


def _derived_quantities(dm) -> dict:
    model = dm.model
    derivation = dm.derive()
    out = {}
    if model.disorder == GAUSSIAN_DATA:
        out |= {str(z): derivation.site_map[z] for z in derivation.coordinates}
        out["theta"] = derivation.theta_query
        out["g"] = derivation.loss_grad
        if model.label_name:
            out[model.label_name] = model.label
        out |= {f"grad_{w}": g for w, g in derivation.gradients.items()}
    else:
        out |= {v.name: model.step_map[v.symbol] for v in model.coordinates}
    return out


# -------------------------------------------------------------------------------- numeric


def _short_solve(dm, steps: int):
    """A few steps of the model: small Monte-Carlo samples where the class samples, dt = 0.05
    for a flow."""
    options = {"samples": 2000} if dm.model.disorder == GAUSSIAN_DATA else {}
    if dm.model.time == "continuous":
        options["dt"] = 0.05
    return dm.solve(steps=steps, **options)


def zero_learning_rate(dm) -> Check:
    """With lr = 0 nothing moves: every observable is constant in time."""
    name = "zero learning rate gives a stationary process"
    model = dm.model
    if model.time != "discrete" or "lr" not in dm.params:
        return Check(name, NA, "needs a discrete update with a parameter 'lr'")
    from dmftc.api import DMFTModel

    ds = _short_solve(DMFTModel(model, dict(dm.overrides, lr=0.0)), 4)
    drift = max(float(np.max(np.abs(ds[o.name].values - ds[o.name].values[0]))) for o in model.observables)
    # Monte-Carlo observables of a frozen process are exactly constant too: the samples do not move
    status = PASS if drift <= 1e-12 else FAIL
    return Check(name, status, f"largest change of an observable over 4 steps: {drift:.1e}")


def causal_closure(dm) -> Check:
    """No response to the future: R(t, s) = 0 for s >= t (R_g: s > t) in a short solve."""
    name = "the closure is causal"
    ds = _short_solve(dm, 6)
    upper = 0.0
    # R_theta vanishes for s >= t (the diagonal included); R_g, and the R of a landscape (whose
    # continuous-time solver stores R(t+, t) = 1 on the diagonal), for s > t
    for var, first_future in (("R_theta", 0), ("R_g", 1), ("R", 1)):
        if var in ds:
            upper = max(upper, float(np.max(np.abs(np.triu(ds[var].values, first_future)))))
    return Check(name, PASS if upper == 0 else FAIL, f"largest response to a later or equal time: {upper:.1e}")


def fluctuation_dissipation(dm, steps: int = 400, dt: float = 0.01, start: float | None = None) -> Check:
    """A Langevin flow on a landscape started in its equilibrium (MATH-FIELD.md §4): C and R
    depend on t - s only, and R(t, s) = (1/T) dC(t, s)/ds with T = b^2 / (2 c) the temperature of
    the stationary law exp(-H/T) of dx/dt = -c grad(x) + b gauss(). ``start`` replaces T as the
    temperature of the initial equilibrium (another start must fail the check)."""
    name = "fluctuation-dissipation from an equilibrium start"
    d = dm.derive()
    if not (dm.model.disorder == GAUSSIAN_FIELD and dm.model.time == "continuous" and d.ck_form):
        return Check(name, NA, "needs a Langevin flow dx/dt = -c grad(x) + b gauss() on a landscape")
    values = {p.symbol: dm.params[p.name] for p in dm.model.params}
    temperature = float(d.temperature.subs(values) / d.mobility.subs(values))
    if d.has_signal or not temperature > 0:
        return Check(name, NA, "needs a positive temperature and no signal (the equilibrium start)")
    from dmftc.classes.gaussian_field.solve import solve_gaussian_field  # it imports this module's siblings

    ds = solve_gaussian_field(d, dm.params, steps=steps, dt=dt,
                              initial_temperature=temperature if start is None else start)
    C, R = ds.C.values, ds.R.values
    lag, first = steps // 4, steps // 4
    shift = max(max(abs(C[tw + lag, tw] - C[first + lag, first]), abs(R[tw + lag, tw] - R[first + lag, first]))
                for tw in range(first, steps - lag))
    fdt = max(abs(R[tw + lag, tw] - (C[tw + lag, tw + 1] - C[tw + lag, tw - 1]) / (2 * dt) / temperature)
              for tw in range(first, steps - lag))
    # Heun's scheme is second order: at dt = 0.01 both defects are ~1e-5 (tests/test_field_flow.py)
    status = PASS if max(shift, fdt) < 1e-4 else FAIL
    return Check(name, status, f"T = {temperature:g}, lag {lag * dt:g}: largest change of C, R along "
                               f"t - s fixed {shift:.1e}, largest |R - (1/T) dC/ds| {fdt:.1e}")


def resolvent(dm) -> Check:
    """For a linear model with constant coefficients the DMFT response is a random-matrix
    average: R_θ(t, t-τ) = ∫ c'M(s)^(τ-1) b dμ(s), M(s) = A + a_h s b c', μ the spectrum of XᵀX
    (ratio·Marchenko–Pastur of ratio 1/ratio)."""
    name = "the response equals the random-matrix resolvent"
    d = dm.derive()
    model = dm.model
    time_dependent = any(e.has(STEP) for e in d.site_map.values())
    if not d.exact or model.data_kind != "gaussian" or time_dependent:
        return Check(name, NA, "needs the exact closure with coefficients constant in time")
    values = {p.symbol: dm.params[p.name] for p in model.params}
    if model.time == "continuous":
        values[DT] = 0.05
    z = list(d.coordinates)
    F = sp.Matrix([d.site_map[s] for s in z])
    A = np.array(F.jacobian(z).subs(values), dtype=float)
    b = np.array(F.diff(DATA_FIELD).subs(values), dtype=float).ravel()
    c = np.array(sp.Matrix([d.theta_query]).jacobian(z).subs(values), dtype=float).ravel()
    a_h = float(sp.diff(d.loss_grad.subs(SELECTION, 1), model.h).subs(values))
    alpha = float(model.data_args["ratio"].subs(values))
    if alpha <= 1:
        return Check(name, NA, "the check integrates the Marchenko–Pastur law for ratio > 1 only")
    T = 12
    ds = dm.solve(steps=T, mode="exact", **({"dt": 0.05} if model.time == "continuous" else {}))
    gamma = 1 / alpha
    lo, hi = (1 - np.sqrt(gamma)) ** 2, (1 + np.sqrt(gamma)) ** 2
    worst = 0.0
    for lag in range(1, T + 1):
        def integrand(x, lag=lag):
            M = A + a_h * alpha * x * np.outer(b, c)
            return c @ np.linalg.matrix_power(M, lag - 1) @ b / (2 * np.pi * gamma * x)
        expected, _ = integrate.quad(integrand, lo, hi, weight="alg", wvar=(0.5, 0.5), epsabs=1e-13,
                                     epsrel=1e-12, limit=200)
        got = ds.R_theta.values[T, T - lag]
        worst = max(worst, abs(got - expected) / max(abs(expected), 1e-12))
    status = PASS if worst < 1e-8 else FAIL  # exact mode: only rounding and quadrature error
    return Check(name, status, f"largest relative difference over lags 1..{T}: {worst:.1e}")


def generated_code(dm, points: int = 20) -> Check:
    """The generated functions compute the derived expressions: evaluated at random points,
    generated code and sympy agree to 1e-10 relative."""
    name = "the generated code matches the derived equations"
    from dmftc.codegen.jit import load_module
    from dmftc.classes.gaussian_data.lower import runtime_parameters

    d = dm.derive()
    model = dm.model
    source, plan = d.generated
    module = load_module(source)
    runtime = runtime_parameters(model)
    values = {sym: (dm.params[nm] if nm in dm.params else 0.05) for sym, nm in runtime}
    params = np.array([values[sym] for sym, _ in runtime])
    rng = np.random.default_rng(0)
    k = len(d.coordinates)
    worst, compared, outside = 0.0, 0, 0

    def compare(got: float, expr: sp.Expr, subs: dict):
        """Outside the expression's domain (sqrt of a negative state, ...) sympy gives a
        complex number and numba NaN: such points are counted, not compared."""
        nonlocal worst, compared, outside
        want = complex(expr.subs(values).subs(subs).evalf())
        if want.imag != 0 or not np.isfinite(got):
            outside += 1
            return
        compared += 1
        worst = max(worst, abs(got - want.real) / max(1.0, abs(want.real)))

    for _ in range(points):
        z = rng.normal(size=k)
        q, h, latent, eps, sel = rng.normal(size=5)
        if model.data_kind == "mixture":
            latent = float(rng.choice([-1.0, 0.0, 1.0]))
        noise = rng.normal(size=len(model.noises))
        t = int(rng.integers(0, 20))
        at = dict(zip(d.coordinates, z)) | {DATA_FIELD: q, STEP: t} | dict(zip(model.noises, noise))
        out = np.empty(k)
        module.site_step(z, q, noise, t, params, out)
        for i, s in enumerate(d.coordinates):
            compare(out[i], d.site_map[s], at)
        compare(module.theta_query(z, params), d.theta_query, at)
        y = module.label(latent, eps, params)
        compare(y, d.label if d.label is not None else sp.Integer(0), {model.latent: latent, EPS: eps})
        sample = {model.h: h, model.y: y, SELECTION: sel}
        compare(module.loss_grad(h, y, sel, params), d.loss_grad, sample)
        if plan.data_smooth:
            compare(module.loss_grad_dh(h, y, sel, params), d.loss_grad_dh, sample)
    status = PASS if worst < 1e-10 and compared > outside else FAIL
    return Check(name, status, f"{compared} evaluations at {points} random points, largest relative "
                               f"difference {worst:.1e}" + (f" ({outside} outside the domain)" if outside else ""))
