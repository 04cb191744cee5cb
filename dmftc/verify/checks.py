"""The checks of ``dmftc verify`` that apply to every class: limits of the update and causality.

Each check returns a :class:`Check` (name, status, detail). Symbolic checks compare sympy
expressions (a difference that simplifies to zero); numeric checks solve the model briefly. A
check that does not apply to a model says so (``n/a``) with the reason. The classes add their
own (``ModelClass.checks``), and :mod:`dmftc.verify.published` compares with published forms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from dmftc.language.symbols import DT

PASS, FAIL, NA = "pass", "fail", "n/a"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # pass | fail | n/a
    detail: str


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
        expected = w.symbol - lr * dm.model_class.update_gradient(model, w)
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
            failures.append(
                f"{v.name} moves at lr = 0 ({sp.sstr(update.subs(lr, 0))}): its limit is "
                "not a first-order flow (momentum has a mass term)"
            )
            continue
        velocity = sp.simplify(sp.diff(update, lr).subs(lr, 0))
        flows.append(f"d{v.name}/dt = {sp.sstr(velocity)}")
    if failures:
        return Check(name, NA, "; ".join(failures))
    return Check(name, PASS, ", ".join(flows))


# -------------------------------------------------------------------------------- numeric


def short_solve(dm, steps: int):
    """A few steps of the model: small Monte-Carlo samples where the class samples, dt = 0.05
    for a flow."""
    options = {"samples": 2000} if "samples" in dm.model_class.solve_options else {}
    if dm.model.time == "continuous":
        options["dt"] = 0.05
    return dm.solve(steps=steps, **options)


def zero_learning_rate(dm) -> Check:
    """With lr = 0 nothing moves: every observable is constant in time."""
    name = "zero learning rate gives a stationary process"
    model = dm.model
    if model.time != "discrete" or "lr" not in dm.params:
        return Check(name, NA, "needs a discrete update with a parameter 'lr'")
    ds = short_solve(dm.with_params(lr=0.0), 4)
    drift = max(float(np.max(np.abs(ds[o.name].values - ds[o.name].values[0]))) for o in model.observables)
    # Monte-Carlo observables of a frozen process are exactly constant too: the samples do not move
    status = PASS if drift <= 1e-12 else FAIL
    return Check(name, status, f"largest change of an observable over 4 steps: {drift:.1e}")


def causal_closure(dm) -> Check:
    """No response to the future: R(t, s) = 0 for s >= t (R_g: s > t) in a short solve."""
    name = "the closure is causal"
    ds = short_solve(dm, 6)
    upper = 0.0
    # R_theta vanishes for s >= t (the diagonal included); R_g, and the R of a landscape (whose
    # continuous-time solver stores R(t+, t) = 1 on the diagonal), for s > t
    for var, first_future in (("R_theta", 0), ("R_g", 1), ("R", 1)):
        if var in ds:
            upper = max(upper, float(np.max(np.abs(np.triu(ds[var].values, first_future)))))
    return Check(name, PASS if upper == 0 else FAIL, f"largest response to a later or equal time: {upper:.1e}")
